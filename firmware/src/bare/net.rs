//! The network side of the monitor: NIC listing and `ping` (wired in with issue 3).
use core::fmt::Write;
use core::net::Ipv4Addr;

use lifeboat_firmware::monitor::Settings;
use lifeboat_hal::uart::Uart16550;

pub struct Network {
    count: usize,
}

impl Network {
    pub fn probe(con: &mut Uart16550) -> Self {
        let _ = write!(con, "No supported network interface found (the NIC drivers arrive with the network issue).\r\n");
        Network { count: 0 }
    }
    pub fn nic_count(&self) -> usize {
        self.count
    }
    pub fn default_interface(&self) -> Option<usize> {
        None
    }
    pub fn ping(&mut self, con: &mut Uart16550, _s: &Settings, target: Ipv4Addr) {
        let _ = write!(con, "ping: no network stack in this build yet (it arrives with the network issue); nothing sent to {target}\r\n");
    }
}
