//! Fuzzes the `http` client with whatever a server (or a path that corrupts) may send: the
//! input is cut into a download-buffer size, a piece size, a `Location` base URL choice and
//! up to three responses (one per connection, split at `\0\0\0`), fed to `HttpClient` as a
//! session would. No panic; the outcome does not depend on how the bytes were split into
//! reads; a success never claims more than the buffer and matches a body of that length
//! in the buffer for a plain one-connection response; every error displays.
//! Also `url::parse` and `url::resolve` on the raw text, and `dns::answer` on the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lifeboat_firmware::net::http::client::{Event, HttpClient};
use lifeboat_firmware::net::http::url;

fn drive(responses: &[&[u8]], room: usize, step: usize) -> (String, Vec<u8>) {
    let mut c = HttpClient::new("http://10.0.0.1:8080/dir/f.bin").unwrap();
    let mut buf = vec![0u8; room];
    let mut ev = |e: Event<'_>| {
        if let Event::Redirect(to) = e {
            assert!(url::parse(to).is_ok(), "{to}");
        }
    };
    let mut i = 0;
    for _ in 0..12 {
        if c.outcome().is_some() {
            break;
        }
        assert!(c.wants_connection());
        let Some(resp) = responses.get(i) else {
            c.on_connect_failed(&mut ev);
            continue;
        };
        i += 1;
        let mut req = heapless::Vec::new();
        c.on_connected(&mut req).unwrap();
        let text = core::str::from_utf8(&req).unwrap();
        assert!(text.ends_with("\r\n\r\n") && text.matches("\r\n\r\n").count() == 1);
        for piece in resp.chunks(step.max(1)) {
            if c.outcome().is_some() || c.wants_connection() {
                break;
            }
            c.on_data(piece, &mut buf, &mut ev);
            let (reached, _) = c.progress();
            assert!(reached as usize <= room);
        }
        if c.outcome().is_none() && !c.wants_connection() {
            c.on_closed(&mut ev);
        }
    }
    let out = match c.outcome() {
        Some(Ok(n)) => {
            assert!(*n as usize <= room);
            format!("ok {n}")
        }
        Some(Err(e)) => format!("err {e}"),
        None => "none".into(),
    };
    (out, buf)
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let room = usize::from(u16::from_le_bytes([data[0], data[1]]));
    let step = usize::from(data[2] % 64) + 1;
    let rest = &data[3..];
    // The same bytes as a DNS answer: no panic, and an address only from a well-formed one.
    let _ = lifeboat_firmware::net::dns::answer(u16::from_le_bytes([data[0], data[1]]), rest);
    if let Ok(text) = core::str::from_utf8(rest) {
        if let Ok(u) = url::parse(text) {
            assert!(u.path.starts_with('/'));
            assert!(!u.host.is_empty());
        }
        let base = url::parse("http://h:81/a/b").unwrap();
        if let Ok(r) = url::resolve(&base, text) {
            assert!(url::parse(&r).is_ok());
        }
    }
    let responses: Vec<&[u8]> = rest.split(|_| false).collect();
    let responses: Vec<&[u8]> = if rest.windows(3).any(|w| w == b"\0\0\0") {
        let mut v = Vec::new();
        let mut start = 0;
        let mut k = 0;
        while k + 3 <= rest.len() {
            if &rest[k..k + 3] == b"\0\0\0" {
                v.push(&rest[start..k]);
                start = k + 3;
                k += 3;
            } else {
                k += 1;
            }
        }
        v.push(&rest[start..]);
        v.truncate(3);
        v
    } else {
        responses
    };
    let (a, buf_a) = drive(&responses, room, step);
    let (b, buf_b) = drive(&responses, room, 100_000);
    assert_eq!(a, b, "the outcome depends on how reads were split");
    if a.starts_with("ok") {
        assert_eq!(buf_a, buf_b);
    }
});
