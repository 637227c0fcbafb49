//! The URL rules, the response parser and the client's decisions on scripted bytes: every
//! response is also fed in pieces of 1, 2, 3, 7 and 64 bytes (short reads must not change
//! the outcome).
use std::string::String;
use std::vec::Vec;

use super::client::{Event, HttpClient, HttpError, MAX_TRIES};
use super::response::{Fed, ParseError, Response, MAX_HEADERS, MAX_LINE};
use super::url::{self, resolve, target, UrlError};

#[test]
fn urls_are_parsed_strictly() {
    let u = url::parse("http://10.0.0.1/a/b.bin").unwrap();
    assert_eq!((u.host, u.port, u.path), ("10.0.0.1", 80, "/a/b.bin"));
    assert_eq!(u.ip(), Some("10.0.0.1".parse().unwrap()));
    let u = url::parse("HTTP://Host-1.example:8080").unwrap();
    assert_eq!((u.host, u.port, u.path), ("Host-1.example", 8080, "/"));
    assert_eq!(u.ip(), None);
    let u = url::parse("http://h/x?y=1#frag").unwrap();
    assert_eq!(u.path, "/x?y=1");
    for (bad, e) in [
        ("https://h/x", UrlError::Https),
        ("ftp://h/x", UrlError::NotHttp),
        ("h/x", UrlError::NotHttp),
        ("http:///x", UrlError::BadHost),
        ("http://user@h/x", UrlError::BadHost),
        ("http://-h/x", UrlError::BadHost),
        ("http://h:0/x", UrlError::BadPort),
        ("http://h:65536/x", UrlError::BadPort),
        ("http://h:/x", UrlError::BadPort),
        ("http://h:+80/x", UrlError::BadPort),
        ("http://h/a b", UrlError::BadPath),
        ("http://h/a\r\nX: y", UrlError::BadPath),
        ("http://h/\u{e9}", UrlError::BadPath),
        // Found by the fuzzer: a query without a path made the request line `GET ?x`.
        ("HTTP://H?HH", UrlError::BadPath),
    ] {
        assert_eq!(url::parse(bad), Err(e), "{bad:?}");
    }
    let long = format!("http://h/{}", "a".repeat(300));
    assert_eq!(url::parse(&long), Err(UrlError::TooLong));
}

#[test]
fn redirects_resolve_against_the_current_url() {
    let base = url::parse("http://10.0.0.1:8080/dir/a.bin").unwrap();
    for (loc, want) in [
        ("http://other/x.bin", "http://other/x.bin"),
        ("//other:81/x", "http://other:81/x"),
        ("/x/y.bin", "http://10.0.0.1:8080/x/y.bin"),
        ("b.bin", "http://10.0.0.1:8080/dir/b.bin"),
        ("  /spaced  ", "http://10.0.0.1:8080/spaced"),
    ] {
        assert_eq!(resolve(&base, loc).as_deref(), Ok(want), "{loc}");
    }
    assert_eq!(resolve(&base, "https://x/"), Err(UrlError::Https));
    assert_eq!(resolve(&base, "ftp://x/"), Err(UrlError::NotHttp));
    assert_eq!(resolve(&base, "/a b"), Err(UrlError::BadPath));
}

#[test]
fn the_default_target_is_server_and_file() {
    let server = Some("10.0.0.2".parse().unwrap());
    assert_eq!(
        target(None, server, "img.bin").as_deref(),
        Some("http://10.0.0.2/img.bin")
    );
    assert_eq!(
        target(None, server, "/d/img.bin").as_deref(),
        Some("http://10.0.0.2/d/img.bin")
    );
    assert_eq!(
        target(None, None, "http://h/f").as_deref(),
        Some("http://h/f")
    );
    assert_eq!(
        target(Some("http://x/y"), server, "f").as_deref(),
        Some("http://x/y")
    );
    assert_eq!(target(None, None, "f"), None);
    assert_eq!(target(None, server, ""), None);
}

/// Runs a whole response through a fresh parser in pieces of `step` bytes.
fn parse_all(resp: &[u8], step: usize) -> Result<(Response, Vec<u8>), ParseError> {
    let mut r = Response::new();
    let mut body = Vec::new();
    let mut i = 0;
    while i < resp.len() {
        let end = (i + step).min(resp.len());
        let piece = &resp[i..end];
        let mut used = 0;
        while used < piece.len() {
            match r.feed(&piece[used..], &mut |b: &[u8]| {
                body.extend_from_slice(b);
                Ok::<(), ParseError>(())
            })? {
                Fed::More => used = piece.len(),
                Fed::Head(n) | Fed::Done(n) => used += n,
            }
            if r.is_done() && used < piece.len() {
                return Err(ParseError::TrailingBytes);
            }
        }
        i = end;
    }
    Ok((r, body))
}

const STEPS: [usize; 6] = [1, 2, 3, 7, 64, 100_000];

#[test]
fn bodies_are_framed_by_length_chunks_or_close() {
    let cases: [(&[u8], &[u8], bool); 4] = [
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
            b"hello",
            true,
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nhel\r\n2\r\nlo\r\n0\r\nTrailer: x\r\n\r\n",
            b"hello",
            true,
        ),
        // chunked wins over Content-Length (RFC 9112 6.3)
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            b"hello",
            true,
        ),
        (b"HTTP/1.0 200 OK\nServer: x\n\nhello", b"hello", false),
    ];
    for (resp, want, done) in cases {
        for step in STEPS {
            let (r, body) = parse_all(resp, step).unwrap();
            assert_eq!(body, want, "{step}");
            assert_eq!(r.is_done(), done, "{step}");
            assert_eq!(r.head().status, 200);
        }
    }
}

#[test]
fn interim_responses_are_skipped() {
    let resp = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    for step in STEPS {
        let (r, body) = parse_all(resp, step).unwrap();
        assert_eq!((r.head().status, &body[..]), (200, &b"ok"[..]));
    }
}

#[test]
fn hostile_heads_are_refused() {
    let long = format!("HTTP/1.1 200 OK\r\nX: {}\r\n\r\n", "a".repeat(MAX_LINE));
    let many = format!(
        "HTTP/1.1 200 OK\r\n{}\r\n",
        "X: y\r\n".repeat(MAX_HEADERS + 1)
    );
    let cases: Vec<(String, ParseError)> = vec![
        (long, ParseError::LineTooLong),
        (many, ParseError::TooManyHeaders),
        ("HTTP/2 200 OK\r\n\r\n".into(), ParseError::BadStatusLine),
        ("HTTP/1.1 20 OK\r\n\r\n".into(), ParseError::BadStatusLine),
        ("HTTP/1.1 2000 OK\r\n\r\n".into(), ParseError::BadStatusLine),
        ("SSH-2.0-OpenSSH\r\n\r\n".into(), ParseError::BadStatusLine),
        // Found by the fuzzer: a multi-byte character across the code's end panicked.
        (
            "HTTP/1.1 3\u{479}o\r\n\r\n".into(),
            ParseError::BadStatusLine,
        ),
        (
            "HTTP/1.1 20\u{479}\r\n\r\n".into(),
            ParseError::BadStatusLine,
        ),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n".into(),
            ParseError::BadContentLength,
        ),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n".into(),
            ParseError::BadContentLength,
        ),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n".into(),
            ParseError::BadContentLength,
        ),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n".into(),
            ParseError::BadContentLength,
        ),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n".into(),
            ParseError::BadContentLength,
        ),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n".into(),
            ParseError::BadContentLength,
        ),
        (
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n".into(),
            ParseError::UnsupportedCoding,
        ),
        (
            "HTTP/1.1 206 P\r\nContent-Range: bytes 9-3/10\r\n\r\n".into(),
            ParseError::BadContentRange,
        ),
        (
            "HTTP/1.1 206 P\r\nContent-Range: bytes 0-10/10\r\n\r\n".into(),
            ParseError::BadContentRange,
        ),
        (
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".into(),
            ParseError::BadChunk,
        ),
        (
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n".into(),
            ParseError::BadChunk,
        ),
        (
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n".into(),
            ParseError::BadChunk,
        ),
        (
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY".into(),
            ParseError::BadChunk,
        ),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA".into(),
            ParseError::TrailingBytes,
        ),
    ];
    for (resp, want) in cases {
        for step in STEPS {
            let got = parse_all(resp.as_bytes(), step).map(|_| ());
            assert_eq!(got, Err(want), "{resp:?} in steps of {step}");
        }
    }
    // Same-valued repeats are allowed (RFC 9110 8.6).
    let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\nok";
    assert_eq!(parse_all(ok, 1).unwrap().1, b"ok");
}

/// A scripted server: each connection gets the next response, cut after `cut` bytes when
/// given (the connection then ends).
struct Script {
    responses: Vec<(Vec<u8>, Option<usize>)>,
}

struct Run {
    result: Result<u64, HttpError>,
    requests: Vec<String>,
    events: Vec<String>,
    buf: Vec<u8>,
}

fn run(script: Script, url: &str, room: usize, step: usize) -> Run {
    let mut c = HttpClient::new(url).unwrap();
    let mut buf = vec![0u8; room];
    let mut requests = Vec::new();
    let mut events = Vec::new();
    let mut log = |e: Event<'_>| {
        if !matches!(e, Event::Progress(_)) {
            events.push(format!("{e:?}"));
        }
    };
    let mut responses = script.responses.into_iter();
    for _ in 0..20 {
        if let Some(r) = c.outcome() {
            return Run {
                result: r.clone(),
                requests,
                events,
                buf,
            };
        }
        assert!(c.wants_connection());
        let Some((resp, cut)) = responses.next() else {
            c.on_connect_failed(&mut log);
            continue;
        };
        let mut req = heapless::Vec::new();
        c.on_connected(&mut req).unwrap();
        requests.push(String::from_utf8(req.to_vec()).unwrap());
        let sent = &resp[..cut.unwrap_or(resp.len()).min(resp.len())];
        for piece in sent.chunks(step) {
            if c.outcome().is_some() || c.wants_connection() {
                break;
            }
            c.on_data(piece, &mut buf, &mut log);
        }
        if c.outcome().is_none() && !c.wants_connection() {
            c.on_closed(&mut log);
        }
    }
    panic!("no outcome after 20 connections");
}

fn ok(body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nETag: \"v1\"\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

fn partial(body: &[u8], from: usize) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {from}-{}/{}\r\n\r\n",
        body.len() - from,
        body.len() - 1,
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(&body[from..]);
    r
}

fn body(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[test]
fn a_plain_download_lands_at_the_start_of_the_buffer() {
    let data = body(10_000);
    for step in STEPS {
        let r = run(
            Script {
                responses: vec![(ok(&data), None)],
            },
            "http://10.0.0.1/f.bin",
            20_000,
            step,
        );
        assert_eq!(r.result, Ok(10_000));
        assert_eq!(&r.buf[..10_000], &data[..]);
        assert_eq!(
            r.requests[0],
            "GET /f.bin HTTP/1.1\r\nHost: 10.0.0.1\r\nUser-Agent: lifeboat\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        );
    }
}

#[test]
fn a_cut_body_is_resumed_by_range_with_if_range() {
    let data = body(50_000);
    let head = ok(&data).len() - data.len();
    let reached = 12_345;
    for step in STEPS {
        let r = run(
            Script {
                responses: vec![
                    (ok(&data), Some(head + reached)),
                    (partial(&data, reached), None),
                ],
            },
            "http://10.0.0.1:8080/f.bin",
            60_000,
            step,
        );
        assert_eq!(r.result, Ok(50_000), "{step}: {:?}", r.events);
        assert_eq!(&r.buf[..50_000], &data[..]);
        assert!(r.requests[1].contains(&format!("Range: bytes={reached}-\r\n")));
        assert!(r.requests[1].contains("If-Range: \"v1\"\r\n"));
        assert!(r.requests[1].contains("Host: 10.0.0.1:8080\r\n"));
        assert_eq!(
            r.events,
            ["Status(200)", &format!("Resume({reached})"), "Status(206)"]
        );
    }
}

#[test]
fn a_server_that_ignores_the_range_sends_the_whole_file_again() {
    let data = body(5_000);
    let r = run(
        Script {
            responses: vec![(ok(&data), Some(1_000)), (ok(&data), None)],
        },
        "http://h/f",
        8_000,
        64,
    );
    assert_eq!(r.result, Ok(5_000));
    assert_eq!(&r.buf[..5_000], &data[..]);
    assert!(r.events.contains(&"Restart".to_string()), "{:?}", r.events);
}

#[test]
fn a_resume_answered_with_another_range_is_refused() {
    let data = body(5_000);
    let r = run(
        Script {
            responses: vec![(ok(&data), Some(1_000)), (partial(&data, 10), None)],
        },
        "http://h/f",
        8_000,
        64,
    );
    assert!(
        matches!(r.result, Err(HttpError::BadResume { .. })),
        "{:?}",
        r.result
    );
}

#[test]
fn connections_that_bring_nothing_new_end_the_download() {
    let data = body(5_000);
    let cut = ok(&data).len() - 1_000;
    let mut responses = vec![(ok(&data), Some(cut))];
    for _ in 0..MAX_TRIES {
        responses.push((partial(&data, 4_000), Some(0)));
    }
    let r = run(Script { responses }, "http://h/f", 8_000, 64);
    assert_eq!(
        r.result,
        Err(HttpError::Cut {
            reached: 4_000,
            total: Some(5_000)
        })
    );
    // Nobody listening at all: a clear verdict after the tries.
    let r = run(Script { responses: vec![] }, "http://h/f", 8_000, 64);
    assert_eq!(r.result, Err(HttpError::NoConnection));
}

#[test]
fn too_large_is_refused_before_any_body_byte_lands() {
    let data = body(3_000);
    let r = run(
        Script {
            responses: vec![(ok(&data), None)],
        },
        "http://h/f",
        2_999,
        7,
    );
    assert_eq!(
        r.result,
        Err(HttpError::TooLarge {
            len: Some(3_000),
            room: 2_999
        })
    );
    assert!(r.buf.iter().all(|&b| b == 0), "body bytes landed");
    // Chunked has no length up front: refused at the first byte beyond the buffer.
    let chunked =
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n4\r\nefgh\r\n0\r\n\r\n";
    let r = run(
        Script {
            responses: vec![(chunked.to_vec(), None)],
        },
        "http://h/f",
        6,
        1,
    );
    assert!(
        r.result == Err(HttpError::TooLarge { len: None, room: 6 }),
        "{:?}",
        r.result
    );
}

#[test]
fn redirects_are_followed_up_to_three() {
    let data = body(100);
    let moved = |to: &str| {
        format!("HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\n\r\n").into_bytes()
    };
    let r = run(
        Script {
            responses: vec![
                (moved("/b"), None),
                (moved("http://other:81/c"), None),
                (moved("d"), None),
                (ok(&data), None),
            ],
        },
        "http://h/a",
        1_000,
        3,
    );
    assert_eq!(r.result, Ok(100));
    assert!(r.requests[1].starts_with("GET /b HTTP/1.1\r\nHost: h\r\n"));
    assert!(r.requests[2].starts_with("GET /c HTTP/1.1\r\nHost: other:81\r\n"));
    assert!(r.requests[3].starts_with("GET /d HTTP/1.1\r\nHost: other:81\r\n"));
    let r = run(
        Script {
            responses: vec![(moved("/a"), None); 5],
        },
        "http://h/a",
        1_000,
        64,
    );
    assert_eq!(r.result, Err(HttpError::TooManyRedirects));
    let r = run(
        Script {
            responses: vec![(b"HTTP/1.1 301 Moved\r\n\r\n".to_vec(), None)],
        },
        "http://h/a",
        1_000,
        64,
    );
    assert_eq!(r.result, Err(HttpError::BadRedirect));
}

#[test]
fn error_statuses_are_shown_as_the_server_said_them() {
    let r = run(
        Script {
            responses: vec![(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found".to_vec(),
                None,
            )],
        },
        "http://h/a",
        1_000,
        64,
    );
    assert_eq!(
        r.result.unwrap_err().to_string(),
        "server said \"404 Not Found\""
    );
    // Control characters in the reason never reach the console.
    let r = run(
        Script {
            responses: vec![(b"HTTP/1.1 500 Bad\x1b[2J\r\n\r\n".to_vec(), None)],
        },
        "http://h/a",
        1_000,
        64,
    );
    assert_eq!(
        r.result.unwrap_err().to_string(),
        "server said \"500 Bad?[2J\""
    );
}

#[test]
fn a_body_until_close_ends_with_the_connection() {
    let r = run(
        Script {
            responses: vec![(b"HTTP/1.0 200 OK\r\n\r\nabcdef".to_vec(), None)],
        },
        "http://h/a",
        1_000,
        2,
    );
    assert_eq!(r.result, Ok(6));
    assert_eq!(&r.buf[..6], b"abcdef");
}

/// Found by the fuzzer: a body without a length that overflows the buffer was reported with
/// the size of the read that overflowed it ("the file is 5 bytes"), which depended on how
/// the bytes were split into reads.
#[test]
fn an_overflow_without_a_length_is_reported_the_same_however_the_reads_are_split() {
    let resp = b"HTTP/1.1 200 OK\r\nX-Not-Length: 5\r\n\r\nhello, world".to_vec();
    let mut seen = Vec::new();
    for step in STEPS {
        let r = run(
            Script {
                responses: vec![(resp.clone(), None)],
            },
            "http://h/a",
            3,
            step,
        );
        seen.push(r.result.unwrap_err().to_string());
    }
    assert!(seen.iter().all(|s| s == &seen[0]), "{seen:?}");
    assert_eq!(
        seen[0],
        "the file is larger than the 3-byte download buffer (it gave no length); stopped there"
    );
}
