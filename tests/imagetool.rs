//! The image tool as an operator runs it: `keygen`, `mkimage` (signed and not), `inspect`
//! of good, corrupt and wrongly signed images, with exit codes.
use std::path::PathBuf;
use std::process::Command;

fn tool(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lifeboat"))
        .args(args)
        .output()
        .expect("running lifeboat");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

fn dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("imagetool-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn s(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn mkimage_inspect_keygen() {
    let d = dir();
    let payload = d.join("payload.bin");
    std::fs::write(&payload, (0..5000u32).map(|i| i as u8).collect::<Vec<_>>()).unwrap();
    let key = d.join("unit.key");
    let (code, out) = tool(&["keygen", s(&key)]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(std::fs::read(&key).unwrap().len(), 64);
    let pubkey = d.join("unit.key.pub");
    assert_eq!(std::fs::read(&pubkey).unwrap().len(), 32);
    let (code, out) = tool(&["keygen", s(&key)]);
    assert_eq!(code, 2, "keygen must not overwrite a key: {out}");

    let img = d.join("image.bin");
    let (code, out) = tool(&[
        "mkimage",
        "--kind",
        "flat64",
        "--version",
        "6.3(5)",
        "--load",
        "0x2000000",
        "--key",
        s(&key),
        s(&payload),
        s(&img),
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("flat64 image 6.3(5), 5320 bytes"), "{out}");

    let (code, out) = tool(&["inspect", "--pubkey", s(&pubkey), s(&img)]);
    assert_eq!(code, 0, "{out}");
    for line in [
        "version: 6.3(5)",
        "kind: flat64",
        "load: 0x2000000",
        "CRC-32: ok",
        "SHA-256: ok",
        "signature: ok",
        "platform: lifeboat-x86",
    ] {
        assert!(out.contains(line), "{line} missing: {out}");
    }

    // One payload byte flipped: the checksum fails, exit status 1.
    let mut bytes = std::fs::read(&img).unwrap();
    bytes[320 + 77] ^= 1;
    let bad = d.join("corrupt.bin");
    std::fs::write(&bad, &bytes).unwrap();
    let (code, out) = tool(&["inspect", s(&bad)]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("Checksum verification on flash image failed"),
        "{out}"
    );

    // Signed with another key.
    let other = d.join("other.key");
    assert_eq!(tool(&["keygen", s(&other)]).0, 0);
    let (code, out) = tool(&[
        "inspect",
        "--pubkey",
        &format!("{}.pub", s(&other)),
        s(&img),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("signature: BAD"), "{out}");

    // Linux kind with an initrd and a command line.
    let initrd = d.join("initrd");
    std::fs::write(&initrd, b"INITRD").unwrap();
    let limg = d.join("linux.bin");
    let (code, out) = tool(&[
        "mkimage",
        "--kind",
        "linux",
        "--version",
        "1.2.3",
        "--initrd",
        s(&initrd),
        "--cmdline",
        "console=ttyS0",
        s(&payload),
        s(&limg),
    ]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = tool(&["inspect", s(&limg)]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("initrd: 6 bytes")
            && out.contains("cmdline: \"console=ttyS0\"")
            && out.contains("version: 1.2(3)"),
        "{out}"
    );

    // Bad input gets a clear error and exit status 2.
    let (code, out) = tool(&[
        "mkimage",
        "--kind",
        "elf",
        "--version",
        "1.0",
        s(&payload),
        s(&img),
    ]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("--kind is flat64 or linux"), "{out}");
    let (code, out) = tool(&["inspect", s(&payload)]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("header: BAD: not a lifeboat image"), "{out}");
}
