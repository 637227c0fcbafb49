//! `mkimage`, `inspect` and `keygen`: the host side of the image format, which lives once in
//! `lifeboat_firmware::image` (the same code the firmware verifies with).
use std::path::Path;

use lifeboat_firmware::image::{
    self, sign_header, Header, HeaderRepr, Kind, PayloadCheck, Version, HEADER_LEN,
};

pub const USAGE: &str = "\
usage: cargo run --release -- mkimage --kind flat64|linux --version VERSION [--platform ID]
                              [--load ADDR --entry ADDR] [--initrd FILE] [--cmdline TEXT]
                              [--key SECRET_KEY_FILE] PAYLOAD OUT
       cargo run --release -- inspect [--pubkey PUBLIC_KEY_FILE] FILE
       cargo run --release -- keygen FILE         (writes FILE, the secret key, and FILE.pub)
VERSION is PIX-style, 6.3(5) or 6.3.5; ADDR is decimal or 0x-hex; --platform defaults to
lifeboat-x86. inspect exits with status 1 when a check fails.";

/// A whole image: the header for `payload` (signed with `sign` when given) and the payload.
pub fn pack(
    repr: &HeaderRepr<'_>,
    payload: &[u8],
    sign: Option<&ed25519_compact::SecretKey>,
) -> Result<Vec<u8>, image::BuildError> {
    let mut h = repr.emit(payload)?;
    if let Some(sk) = sign {
        sign_header(&mut h, |m| *sk.sign(m, None));
    }
    let mut img = h.to_vec();
    img.extend_from_slice(payload);
    Ok(img)
}

fn read(p: &str) -> Result<Vec<u8>, String> {
    std::fs::read(p).map_err(|e| format!("{p}: {e}"))
}

fn addr(s: &str) -> Result<u64, String> {
    let r = match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse(),
    };
    r.map_err(|_| format!("{s:?} is not an address"))
}

/// Loads a secret key written by `keygen` (64 bytes: seed ‖ public key).
fn secret_key(p: &str) -> Result<ed25519_compact::SecretKey, String> {
    let b = read(p)?;
    ed25519_compact::SecretKey::from_slice(&b)
        .map_err(|_| format!("{p}: not an ed25519 secret key (64 bytes)"))
}

fn public_key(p: &str) -> Result<[u8; 32], String> {
    let b = read(p)?;
    b.try_into()
        .map_err(|_| format!("{p}: not an ed25519 public key (32 bytes)"))
}

/// `mkimage`: returns the image bytes written.
pub fn mkimage(args: &[String]) -> Result<String, String> {
    let mut kind = None;
    let mut version = None;
    let mut platform = image::PLATFORM.to_owned();
    let (mut load, mut entry) = (None, None);
    let mut initrd = None;
    let mut cmdline = String::new();
    let mut key = None;
    let mut files = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{a} needs a value"))
        };
        match a.as_str() {
            "--kind" => kind = Some(Kind::parse(&val()?).ok_or("--kind is flat64 or linux")?),
            "--version" => {
                let v = val()?;
                version = Some(
                    Version::parse(&v)
                        .ok_or_else(|| format!("version {v:?}: expected 6.3(5) or 6.3.5"))?,
                )
            }
            "--platform" => platform = val()?,
            "--load" => load = Some(addr(&val()?)?),
            "--entry" => entry = Some(addr(&val()?)?),
            "--initrd" => initrd = Some(val()?),
            "--cmdline" => cmdline = val()?,
            "--key" => key = Some(val()?),
            f if !f.starts_with("--") => files.push(f.to_owned()),
            x => return Err(format!("unknown option {x:?}")),
        }
    }
    let kind = kind.ok_or("--kind is required")?;
    let version = version.ok_or("--version is required")?;
    let [payload_path, out] =
        <[String; 2]>::try_from(files).map_err(|_| "give PAYLOAD and OUT".to_owned())?;
    let mut payload = read(&payload_path)?;
    let mut initrd_len = 0;
    if let Some(p) = initrd {
        if kind != Kind::Linux {
            return Err("--initrd is for --kind linux".into());
        }
        let i = read(&p)?;
        initrd_len = i.len() as u64;
        payload.extend_from_slice(&i);
    }
    let (load, entry) = match kind {
        Kind::Flat64 => {
            let load =
                load.ok_or("--kind flat64 needs --load (and --entry, default: the load address)")?;
            (load, entry.unwrap_or(load))
        }
        Kind::Linux => (0, 0),
    };
    let repr = HeaderRepr {
        platform: &platform,
        version,
        kind,
        load,
        entry,
        initrd_len,
        cmdline: &cmdline,
    };
    let sk = key.map(|k| secret_key(&k)).transpose()?;
    let img = pack(&repr, &payload, sk.as_ref()).map_err(|e| e.to_string())?;
    std::fs::write(&out, &img).map_err(|e| format!("{out}: {e}"))?;
    Ok(format!(
        "wrote {out}: {} image {version}, {} bytes",
        kind.name(),
        img.len()
    ))
}

/// `inspect`: the report, and whether every check passed.
pub fn inspect(args: &[String]) -> Result<(String, bool), String> {
    let mut pubkey = None;
    let mut file = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--pubkey" => pubkey = Some(public_key(it.next().ok_or("--pubkey needs a file")?)?),
            f if !f.starts_with("--") && file.is_none() => file = Some(f.to_owned()),
            x => return Err(format!("unexpected argument {x:?}")),
        }
    }
    let file = file.ok_or("give the image FILE")?;
    let img = read(&file)?;
    let mut out = format!("{file}: {} bytes\n", img.len());
    let h = match Header::new_checked(&img[..]) {
        Ok(h) => h,
        Err(e) => {
            out += &format!("header: BAD: {e}\n");
            return Ok((out, false));
        }
    };
    out += &format!(
        "header: ok (format {}, CRC-32 verified)\nplatform: {}\nversion: {}\nkind: {}\n",
        image::FORMAT_VERSION,
        h.platform(),
        h.version(),
        h.kind().map(Kind::name).unwrap_or("?")
    );
    match h.kind() {
        Ok(Kind::Flat64) => out += &format!("load: {:#x}\nentry: {:#x}\n", h.load(), h.entry()),
        _ => {
            out += &format!(
                "kernel: {} bytes\ninitrd: {} bytes\ncmdline: {:?}\n",
                h.kernel_len(),
                h.initrd_len(),
                h.cmdline()
            )
        }
    }
    out += &format!("payload: {} bytes\n", h.payload_len());
    let mut ok = true;
    let present = (img.len() - HEADER_LEN) as u64;
    if present != h.payload_len() {
        out += &format!("payload length: BAD: {present} bytes present\n");
        ok = false;
    } else {
        let mut c = PayloadCheck::default();
        c.update(&img[HEADER_LEN..]);
        match c.finish(&h) {
            Ok(()) => out += &format!("CRC-32: ok ({:#010x})\nSHA-256: ok\n", h.payload_crc()),
            Err(e) => {
                out += &format!("checksums: BAD: {e}\n");
                ok = false;
            }
        }
    }
    match (h.signed(), pubkey) {
        (false, _) => out += "signature: none\n",
        (true, None) => out += "signature: present (give --pubkey to check it)\n",
        (true, Some(k)) if h.signature_ok(&k) => out += "signature: ok\n",
        (true, Some(_)) => {
            out += "signature: BAD (does not verify with this key)\n";
            ok = false;
        }
    }
    Ok((out, ok))
}

/// `keygen FILE`: a new key pair from the OS's randomness.
pub fn keygen(args: &[String]) -> Result<String, String> {
    let [file] = <[&String; 1]>::try_from(args.iter().collect::<Vec<_>>())
        .map_err(|_| "give one FILE".to_owned())?;
    let kp = ed25519_compact::KeyPair::generate();
    let pubfile = format!("{file}.pub");
    if Path::new(file).exists() {
        return Err(format!("{file} exists; not overwriting a key"));
    }
    std::fs::write(file, kp.sk.as_ref()).map_err(|e| format!("{file}: {e}"))?;
    std::fs::write(&pubfile, kp.pk.as_ref()).map_err(|e| format!("{pubfile}: {e}"))?;
    Ok(format!(
        "wrote {file} (secret key) and {pubfile} (public key)"
    ))
}
