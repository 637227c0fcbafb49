//! Bringing the selected NIC up behind the prompt.
//!
//! The prompt comes first: the NICs are listed (PCI and MAC only) and `monitor>` printed
//! before any NIC is reset and started, because starting one costs milliseconds of resets
//! and waits that the operator should not watch. The selected interface's NIC is then
//! started the first time the console is idle at the prompt, so that its receiver and its
//! link come up while the operator types (QEMU's e1000 takes no frame for a second after
//! its receiver is enabled; a real PHY negotiates for about as long). A command that needs
//! the network before that starts the NIC itself and waits for its link.
//!
//! [`Bringup`] decides when; the bare binary does the starting and prints what failed.

/// Which interface to start behind the prompt: the selected one, once each time it is
/// selected. A failure there is reported once, by the caller, and not retried behind the
/// prompt (a broken NIC would repeat its failure at every idle moment); the commands that
/// need the network try again and say why they cannot.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Bringup {
    tried: Option<usize>,
}

impl Bringup {
    /// With the console idle at the prompt: the interface to start now, if any. `selected`
    /// is the operator's interface, `count` how many were found, `open` the one whose NIC
    /// runs (if one does).
    pub fn due(&mut self, selected: usize, count: usize, open: Option<usize>) -> Option<usize> {
        if selected >= count || open == Some(selected) || self.tried == Some(selected) {
            return None;
        }
        self.tried = Some(selected);
        Some(selected)
    }
}

#[cfg(test)]
mod tests {
    use super::Bringup;

    #[test]
    fn the_selected_interface_is_started_once_behind_the_prompt() {
        let mut b = Bringup::default();
        assert_eq!(b.due(0, 1, None), Some(0));
        // It failed (nothing open): reported once, not tried again at every idle moment.
        assert_eq!(b.due(0, 1, None), None);
        assert_eq!(b.due(0, 1, None), None);
    }

    #[test]
    fn an_open_interface_needs_nothing() {
        let mut b = Bringup::default();
        // A command opened it before the console was idle.
        assert_eq!(b.due(1, 2, Some(1)), None);
        assert_eq!(b.due(1, 2, None), Some(1));
    }

    #[test]
    fn selecting_another_interface_starts_it_and_selecting_back_tries_again() {
        let mut b = Bringup::default();
        assert_eq!(b.due(1, 2, None), Some(1));
        assert_eq!(b.due(1, 2, Some(1)), None);
        assert_eq!(b.due(0, 2, Some(1)), Some(0));
        assert_eq!(b.due(0, 2, None), None);
        assert_eq!(b.due(1, 2, None), Some(1));
    }

    #[test]
    fn nothing_to_start_without_interfaces() {
        let mut b = Bringup::default();
        assert_eq!(b.due(0, 0, None), None);
        assert_eq!(b.due(2, 2, None), None);
    }
}
