//! `mkimage`, `inspect` and `keygen`: the host side of the image format, which lives once in
//! `lifeboat_firmware::image` (the same code the firmware verifies with).
use std::path::{Path, PathBuf};

use lifeboat_firmware::image::{
    self, sign_header, Header, HeaderRepr, Kind, PayloadCheck, Version, HEADER_LEN,
};

/// `mkimage`: pack a payload into an image.
#[derive(Debug, clap::Args)]
#[command(after_help = "VERSION is PIX-style, 6.3(5) or 6.3.5; ADDR is decimal or 0x-hex.")]
pub struct MkimageArgs {
    /// What the payload is: a flat 64-bit binary, or a Linux bzImage (+ --initrd)
    #[arg(long, value_parser = parse_kind)]
    pub kind: Kind,
    /// The image's version, e.g. 6.3(5) or 6.3.5
    #[arg(long, value_parser = parse_version)]
    pub version: Version,
    /// The platform the image is for
    #[arg(long, default_value = image::PLATFORM)]
    pub platform: String,
    /// Where a flat64 payload is loaded (required for --kind flat64)
    #[arg(long, value_name = "ADDR", value_parser = addr)]
    pub load: Option<u64>,
    /// Where a flat64 payload starts (default: the load address)
    #[arg(long, value_name = "ADDR", value_parser = addr)]
    pub entry: Option<u64>,
    /// The initramfs appended after a Linux kernel
    #[arg(long, value_name = "FILE")]
    pub initrd: Option<PathBuf>,
    /// The Linux kernel command line
    #[arg(long, value_name = "TEXT", default_value = "")]
    pub cmdline: String,
    /// Sign with this secret key (FILE from keygen)
    #[arg(long, value_name = "SECRET_KEY_FILE")]
    pub key: Option<PathBuf>,
    /// The payload file
    pub payload: PathBuf,
    /// The image file to write
    pub out: PathBuf,
}

/// `inspect`: check an image and print its header. Exits with status 1 when a check fails.
#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// Check the signature with this public key (FILE.pub from keygen)
    #[arg(long, value_name = "PUBLIC_KEY_FILE")]
    pub pubkey: Option<PathBuf>,
    /// The image file
    pub file: PathBuf,
}

/// `keygen`: a new signing key pair.
#[derive(Debug, clap::Args)]
pub struct KeygenArgs {
    /// Where the secret key goes; the public key goes to FILE.pub. Never overwrites.
    pub file: PathBuf,
}

fn parse_kind(s: &str) -> Result<Kind, String> {
    Kind::parse(s).ok_or_else(|| "--kind is flat64 or linux".into())
}

fn parse_version(s: &str) -> Result<Version, String> {
    Version::parse(s).ok_or_else(|| format!("version {s:?}: expected 6.3(5) or 6.3.5"))
}

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

fn read(p: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))
}

fn addr(s: &str) -> Result<u64, String> {
    let r = match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse(),
    };
    r.map_err(|_| format!("{s:?} is not an address"))
}

/// Loads a secret key written by `keygen` (64 bytes: seed ‖ public key).
fn secret_key(p: &Path) -> Result<ed25519_compact::SecretKey, String> {
    let b = read(p)?;
    ed25519_compact::SecretKey::from_slice(&b)
        .map_err(|_| format!("{}: not an ed25519 secret key (64 bytes)", p.display()))
}

/// Loads a public key written by `keygen` (`FILE.pub`, 32 bytes).
pub fn public_key(p: &Path) -> Result<[u8; 32], String> {
    let b = read(p)?;
    b.try_into().map_err(|_| {
        format!(
            "{}: not an ed25519 public key (32 bytes, from keygen)",
            p.display()
        )
    })
}

/// `mkimage`: writes the image; returns what was written.
pub fn mkimage(args: &MkimageArgs) -> Result<String, String> {
    let MkimageArgs {
        kind,
        version,
        ref platform,
        load,
        entry,
        ref initrd,
        ref cmdline,
        ref key,
        payload: ref payload_path,
        ref out,
    } = *args;
    let mut payload = read(payload_path)?;
    let mut initrd_len = 0;
    if let Some(p) = initrd {
        if kind != Kind::Linux {
            return Err("--initrd is for --kind linux".into());
        }
        let i = read(p)?;
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
        platform,
        version,
        kind,
        load,
        entry,
        initrd_len,
        cmdline,
    };
    let sk = key.as_deref().map(secret_key).transpose()?;
    let img = pack(&repr, &payload, sk.as_ref()).map_err(|e| e.to_string())?;
    std::fs::write(out, &img).map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(format!(
        "wrote {}: {} image {version}, {} bytes",
        out.display(),
        kind.name(),
        img.len()
    ))
}

/// `inspect`: the report, and whether every check passed.
pub fn inspect(args: &InspectArgs) -> Result<(String, bool), String> {
    let pubkey = args.pubkey.as_deref().map(public_key).transpose()?;
    let file = args.file.display();
    let img = read(&args.file)?;
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
pub fn keygen(args: &KeygenArgs) -> Result<String, String> {
    let file = &args.file;
    let pubfile = PathBuf::from(format!("{}.pub", file.display()));
    let (file_s, pubfile_s) = (file.display(), pubfile.display());
    if file.exists() {
        return Err(format!("{file_s} exists; not overwriting a key"));
    }
    let kp = ed25519_compact::KeyPair::generate();
    std::fs::write(file, kp.sk.as_ref()).map_err(|e| format!("{file_s}: {e}"))?;
    std::fs::write(&pubfile, kp.pk.as_ref()).map_err(|e| format!("{pubfile_s}: {e}"))?;
    Ok(format!(
        "wrote {file_s} (secret key) and {pubfile_s} (public key)"
    ))
}
