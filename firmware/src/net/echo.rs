//! ICMP echo requests and replies for `ping`, encoded and decoded with smoltcp's wire
//! types. "100-byte" echoes, as the PIX prints, are 100-byte IP datagrams: 20 bytes of
//! IPv4 header, 8 of ICMP header and 72 of data.
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{Icmpv4Packet, Icmpv4Repr};

/// IP datagram size of one echo, as printed in the banner line.
pub const DATAGRAM_BYTES: usize = 100;
/// ICMP data bytes in one echo.
pub const DATA_BYTES: usize = DATAGRAM_BYTES - 20 - 8;
/// ICMP message bytes (header + data) in one echo.
pub const MESSAGE_BYTES: usize = DATAGRAM_BYTES - 20;

/// The data pattern: bytes 0xAB, 0xCD alternating (as Cisco IOS fills its echoes).
fn pattern() -> [u8; DATA_BYTES] {
    let mut d = [0u8; DATA_BYTES];
    for (i, b) in d.iter_mut().enumerate() {
        *b = if i % 2 == 0 { 0xAB } else { 0xCD };
    }
    d
}

/// The ICMP message of echo request `seq` with identifier `ident`.
pub fn request(ident: u16, seq: u16) -> [u8; MESSAGE_BYTES] {
    let data = pattern();
    let repr = Icmpv4Repr::EchoRequest {
        ident,
        seq_no: seq,
        data: &data,
    };
    let mut buf = [0u8; MESSAGE_BYTES];
    repr.emit(
        &mut Icmpv4Packet::new_unchecked(&mut buf[..]),
        &ChecksumCapabilities::default(),
    );
    buf
}

/// The sequence number, if `msg` is a well-formed echo reply to `ident` carrying our data.
pub fn parse_reply(msg: &[u8], ident: u16) -> Option<u16> {
    let pkt = Icmpv4Packet::new_checked(msg).ok()?;
    match Icmpv4Repr::parse(&pkt, &ChecksumCapabilities::default()).ok()? {
        Icmpv4Repr::EchoReply {
            ident: i,
            seq_no,
            data,
        } if i == ident && data == pattern() => Some(seq_no),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn as_reply(mut m: [u8; MESSAGE_BYTES]) -> [u8; MESSAGE_BYTES] {
        m[0] = 0; // type 0: echo reply
        let mut p = Icmpv4Packet::new_unchecked(&mut m[..]);
        p.fill_checksum();
        m
    }

    #[test]
    fn request_is_a_valid_echo_of_the_right_size() {
        let m = request(0x5b8d, 3);
        assert_eq!(m.len(), 80);
        let p = Icmpv4Packet::new_checked(&m[..]).unwrap();
        assert!(p.verify_checksum());
        assert_eq!(
            (p.msg_type(), p.echo_ident(), p.echo_seq_no()),
            (smoltcp::wire::Icmpv4Message::EchoRequest, 0x5b8d, 3)
        );
    }

    #[test]
    fn reply_round_trip() {
        let r = as_reply(request(0x5b8d, 4));
        assert_eq!(parse_reply(&r, 0x5b8d), Some(4));
        assert_eq!(parse_reply(&r, 0x1111), None, "other identifier");
    }

    #[test]
    fn bad_replies_are_rejected() {
        let mut r = as_reply(request(1, 1));
        r[20] ^= 0xFF; // data corrupted, checksum now wrong
        assert_eq!(parse_reply(&r, 1), None);
        assert_eq!(
            parse_reply(&request(1, 1), 1),
            None,
            "a request is not a reply"
        );
        for len in 0..8 {
            assert_eq!(parse_reply(&r[..len], 1), None);
        }
    }
}
