//! The trace codes of the PIX's Table 11-2 ("TFTP Download Error Codes"), plus the `A`, `T`
//! and `(N)` marks, exactly as the console shows them during a download with `trace on`.
//!
//! Both the frame classifier (frames that never reach the TFTP socket) and the TFTP client
//! (datagrams that do) report through this one type, so the console has one spelling.
use core::fmt;

/// One mark in the progress line. `Display` gives the console spelling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceCode {
    /// `<-1>`: timeout between the unit and the TFTP server (the transfer gave up).
    Timeout,
    /// `<2>`: the frame was too short to be a TFTP packet.
    ShortPacket,
    /// `<3>`: the packet was not from the server named by `server`.
    NotFromServer,
    /// `<4>`: the IP header length was too small for a TFTP packet.
    ShortIpHeader,
    /// `<5>`: the IP protocol was not UDP.
    NotUdp,
    /// `<6>`: the IP destination was not this unit's `address`.
    WrongDestination,
    /// `<7>`: the UDP ports were not the ones of this transfer.
    WrongPorts,
    /// `<8>`: the UDP checksum was wrong.
    BadChecksum,
    /// `<9>`: an unexpected TFTP opcode (stops the download).
    UnexpectedOpcode,
    /// `<10>`: the server sent a TFTP ERROR (stops the download).
    TransferError,
    /// `<-10>`: the server has no such file (or may not read it).
    FileNotFound,
    /// `<11>`: a DATA block out of sequence.
    OutOfSequence,
    /// `A`: an ARP frame.
    Arp,
    /// `T`: a retransmission timeout (the transfer goes on).
    Retransmit,
    /// `(N)`: a frame that is not IP, with its EtherType (decimal, as the PIX printed it).
    NonIp(u16),
}

impl TraceCode {
    /// The numeric code of Table 11-2, for the codes that have one.
    pub const fn number(self) -> Option<i8> {
        Some(match self {
            TraceCode::Timeout => -1,
            TraceCode::ShortPacket => 2,
            TraceCode::NotFromServer => 3,
            TraceCode::ShortIpHeader => 4,
            TraceCode::NotUdp => 5,
            TraceCode::WrongDestination => 6,
            TraceCode::WrongPorts => 7,
            TraceCode::BadChecksum => 8,
            TraceCode::UnexpectedOpcode => 9,
            TraceCode::TransferError => 10,
            TraceCode::FileNotFound => -10,
            TraceCode::OutOfSequence => 11,
            TraceCode::Arp | TraceCode::Retransmit | TraceCode::NonIp(_) => return None,
        })
    }
}

impl fmt::Display for TraceCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self, self.number()) {
            (_, Some(n)) => write!(f, "<{n}>"),
            (TraceCode::Arp, None) => f.write_str("A"),
            (TraceCode::NonIp(proto), None) => write!(f, "({proto})"),
            _ => f.write_str("T"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::TraceCode::*;

    #[test]
    fn console_spelling_matches_table_11_2() {
        let all = [
            (Timeout, "<-1>"),
            (ShortPacket, "<2>"),
            (NotFromServer, "<3>"),
            (ShortIpHeader, "<4>"),
            (NotUdp, "<5>"),
            (WrongDestination, "<6>"),
            (WrongPorts, "<7>"),
            (BadChecksum, "<8>"),
            (UnexpectedOpcode, "<9>"),
            (TransferError, "<10>"),
            (FileNotFound, "<-10>"),
            (OutOfSequence, "<11>"),
            (Arp, "A"),
            (Retransmit, "T"),
            (NonIp(0x86DD), "(34525)"),
        ];
        for (code, text) in all {
            assert_eq!(format!("{code}"), text);
        }
    }
}
