#!/usr/bin/env python3
"""Writes the hand-built seeds of the image_header, config_sector, linux_header and
dhcp_offer targets into corpus/<target>/ (run from fuzz/; the input formats are described
at the top of each fuzz_targets/<target>.rs)."""
import os
import struct

def write(target, name, data):
    os.makedirs(f"corpus/{target}", exist_ok=True)
    with open(f"corpus/{target}/{name}", "wb") as f:
        f.write(data)

# image_header: the demo image (an old seed) in the raw mode (ctl 0) and the fixed-up mode
# with every fix-up (ctl 0xFD); its header alone with the payload length/hashes fixed up for
# an empty payload (0xFD); a truncated header in the fixed-up mode; a structured seed.
demo_path = "corpus/image_header/raw_demo"
demo = open(demo_path, "rb").read()[1:] if os.path.exists(demo_path) else open("corpus/image_header/demo", "rb").read()
write("image_header", "raw_demo", b"\x00" + demo)
write("image_header", "fixed_demo", b"\xfd" + demo)
write("image_header", "fixed_header_only", b"\xfd" + demo[:320])
write("image_header", "fixed_signed", b"\xfd" + demo[:29] + bytes([demo[29] | 1]) + demo[30:320] + b"payload")
write("image_header", "fixed_truncated", b"\x01" + demo[:200])
write("image_header", "version", b"\x00" + b"6.3(5)")
write("image_header", "structured", b"\x02" + bytes(range(1, 120)))

# config_sector: what `lifeboat media` writes (src/media.rs MediaConfig::to_text), NUL-padded
# to the 512-byte sector, with and without a key; lines the parser must warn about; and
# the near misses it must refuse.
key = bytes(range(32)).hex()
real = ("# lifeboat boot configuration\nboot_timeout=10\nbaud=9600\nlog=WARN\nmode=monitor\n")
write("config_sector", "media_default", real.encode().ljust(512, b"\0"))
write("config_sector", "media_boothelper_key", (
    "# lifeboat boot configuration\nboot_timeout=3\nbaud=115200\nlog=INFO\nmode=boothelper\n"
    f"pubkey={key}\n").encode().ljust(512, b"\0"))
write("config_sector", "warnings", b"boot_timeout=-1\nbaud=9601\r\nlog=loud\nmode=x\nfoo=1\njunk\npubkey=00\n")
# The near misses of issue 21 that once left a unit keyless: each must be refused.
keyed = real + f"pubkey={key}\n"
for name, text in [
    ("refused_upper_key", real + f"PUBKEY={key}\n"),
    ("refused_capital_key", real + f"Pubkey={key}\n"),
    ("refused_colon", real + f"pubkey: {key}\n"),
    ("refused_zero_key", real + "pubkey=" + "0" * 64 + "\n"),
]:
    write("config_sector", name, text.encode().ljust(512, b"\0"))
write("config_sector", "refused_bom", b"\xef\xbb\xbf" + keyed.encode())
write("config_sector", "refused_nul_before_key",
      (real + "\0" + f"pubkey={key}\n").encode().ljust(512, b"\0"))

# linux_header: ctl, trailer (body u16, initrd u64, cmdline u16, avoid base u64, len u64),
# then the setup header 0x1F1..0x268 as a Debian 12 kernel has it (protocol 2.15,
# setup_sects 39, relocatable, 2 MiB alignment, pref_address 16 MiB, init_size 64 MiB,
# xloadflags 0x7F, cmdline_size 2047, initrd_addr_max 0x7FFFFFFF).
def setup_header(setup_sects=39, version=0x020F, reloc=1, xlf=0x7F, align=0x200000,
                 pref=0x1000000, init_size=0x4000000, cmdline_size=2047, addr_max=0x7FFFFFFF):
    h = bytearray(0x268)
    h[0x1F1] = setup_sects
    struct.pack_into("<H", h, 0x1FE, 0xAA55)
    h[0x200:0x202] = b"\xeb\x6a"  # jump: header ends at 0x26C
    h[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", h, 0x206, version)
    struct.pack_into("<I", h, 0x22C, addr_max)
    struct.pack_into("<I", h, 0x230, align)
    h[0x234] = reloc
    struct.pack_into("<H", h, 0x236, xlf)
    struct.pack_into("<I", h, 0x238, cmdline_size)
    struct.pack_into("<Q", h, 0x258, pref)
    struct.pack_into("<I", h, 0x260, init_size)
    return bytes(h[0x1F1:0x268])

def trailer(body, initrd, cmdline, avoid=(0, 0)):
    return struct.pack("<HQHQQ", body, initrd, cmdline, *avoid)

write("linux_header", "debian_initrd", b"\x00" + trailer(4096, 3 * 2**20 + 5, 30) + setup_header())
write("linux_header", "debian_avoid", b"\x00" + trailer(4096, 0, 0, (15 * 2**20, 10 * 2**20)) + setup_header())
write("linux_header", "fixed_address", b"\x00" + trailer(8192, 4096, 10) + setup_header(reloc=0, pref=0x400000, init_size=0x800000))

# dhcp_offer: ctl 0 (raw), then a DHCPOFFER as QEMU's slirp or dnsmasq sends it: yiaddr
# 10.0.2.15, siaddr 10.0.2.2, file "pix601.bin"; options 53 (offer), 54, 51, 1, 3, 6, 66, 67.
def offer(file=b"pix601.bin", options=None):
    p = bytearray(240)
    p[0:4] = bytes([2, 1, 6, 0])
    struct.pack_into(">I", p, 4, 0x3903F326)
    p[16:20] = bytes([10, 0, 2, 15])
    p[20:24] = bytes([10, 0, 2, 2])
    p[28:34] = bytes([0x52, 0x54, 0, 0x12, 0x34, 0x56])
    p[108:108 + len(file)] = file
    p[236:240] = bytes([0x63, 0x82, 0x53, 0x63])
    if options is None:
        options = [(53, b"\x02"), (54, bytes([10, 0, 2, 2])), (51, struct.pack(">I", 86400)),
                   (1, bytes([255, 255, 255, 0])), (3, bytes([10, 0, 2, 2])),
                   (6, bytes([10, 0, 2, 3])), (66, b"10.0.2.2"), (67, b"pix601.bin\0")]
    for k, v in options:
        p += bytes([k, len(v)]) + v
    return bytes(p + b"\xff")

write("dhcp_offer", "offer_slirp", b"\x00" + offer())
write("dhcp_offer", "offer_minimal", b"\x00" + offer(b"", [(53, b"\x02"), (54, bytes([192, 168, 1, 1])),
      (1, bytes([255, 255, 0, 0]))]))
write("dhcp_offer", "offer_option66_name", b"\x00" + offer(b"boot/x.bin", [(53, b"\x02"),
      (54, bytes([10, 0, 2, 2])), (1, bytes([255, 255, 255, 0])), (58, struct.pack(">I", 600)),
      (66, b"tftp.example"), (67, b"")]))
write("dhcp_offer", "structured", b"\x01" + bytes([10, 0, 2, 15, 10, 0, 2, 2, 10, 0, 2, 2, 1, 10, 0, 2, 2,
      1, 255, 255, 255, 0, 1, 10, 0, 2, 2]) + bytes(range(40)))
