//! The hardware core of every lifeboat stage: port I/O, the 16550 UART, PCI configuration
//! access (mechanism #1 and ECAM), CMOS RAM and QEMU's fw_cfg. The ROM stage uses it
//! directly; hal (the firmware's hardware crate) builds its drivers on it.
//!
//! What can touch memory is an `unsafe fn` with its `# Safety`: a raw port access (the
//! device behind a port may do anything, DMA included), an ECAM access (MMIO at an address
//! the caller vouches for), a fw_cfg DMA transfer. CMOS, the fixed PCI configuration ports
//! and fw_cfg's data port move no memory and are safe behind a constructor or module
//! contract that says so.
#![cfg_attr(not(test), no_std)]
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]
#![deny(missing_docs)]

pub mod cmos;
pub mod fw_cfg;
pub mod pci;
pub mod port;
pub mod uart;

#[cfg(test)]
mod tests {
    #[test]
    fn the_divisor_is_exact_or_none() {
        use crate::uart::divisor;
        assert_eq!(divisor(115_200), Some(1));
        assert_eq!(divisor(9600), Some(12));
        assert_eq!(divisor(1200), Some(96));
        assert_eq!(divisor(0), None);
        assert_eq!(divisor(7), None, "115200 / 7 is not whole");
        assert_eq!(divisor(230_400), None);
    }

    #[test]
    fn configuration_addresses() {
        use crate::pci::{Bdf, Ecam};
        let b = Bdf {
            bus: 1,
            dev: 2,
            func: 3,
        };
        assert_eq!(b.config_address(0x3E), 0x8001_133C);
        let w = Ecam::new(0xB000_0000, 255).unwrap();
        assert_eq!(w.address(b, 0x3E), Some(0xB011_303C));
        assert_eq!(Ecam::new(0xB000_0000, 0).unwrap().address(b, 0), None);
    }

    #[test]
    fn the_dma_access_structure_is_big_endian() {
        use crate::fw_cfg::{dma_access, dma_select, DMA_READ};
        let c = dma_select(0x19, DMA_READ);
        assert_eq!(c, 0x0019_000A);
        assert_eq!(
            dma_access(c, 0x40, 0x1_2345_6789),
            [0, 0x19, 0, 0x0A, 0, 0, 0, 0x40, 0, 0, 0, 1, 0x23, 0x45, 0x67, 0x89]
        );
    }
}
