//! NIC drivers implementing smoltcp phy::Device (owned by the NIC work, issue 3).
