//! PCI configuration mechanism #1 (owned by the NIC work, issue 3).
