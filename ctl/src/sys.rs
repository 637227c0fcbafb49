//! The two Linux system calls std does not offer, made directly (x86-64 numbers): no C
//! library is needed, so the static musl build and a glibc build behave the same.
use std::io;
use std::os::fd::AsRawFd;

const SYS_FADVISE64: i64 = 221;
const SYS_IOPERM: i64 = 173;
const SYS_IOCTL: i64 = 16;
/// `BLKROGET` (linux/fs.h, `_IO(0x12, 94)`): is the block device read-only.
const BLKROGET: u64 = 0x125E;
/// `POSIX_FADV_DONTNEED` (linux/fadvise.h).
const FADV_DONTNEED: u64 = 4;

/// A system call with three arguments; the result or the error it returned.
///
/// # Safety
/// The call must not read or write memory of this process other than through pointers
/// the caller passes and keeps valid for the call, nor have effects Rust's memory model must
/// know of.
unsafe fn syscall3(nr: i64, a: u64, b: u64, c: u64) -> io::Result<u64> {
    // SAFETY: the caller's promise, passed on; the fourth argument is unused by the call.
    unsafe { syscall4(nr, a, b, c, 0) }
}

/// # Safety
/// As [`syscall3`].
unsafe fn syscall4(nr: i64, a: u64, b: u64, c: u64, d: u64) -> io::Result<u64> {
    let ret: i64;
    // SAFETY: the caller vouches that the call touches no memory of ours; the syscall
    // instruction clobbers rcx and r11, declared here; the stack is not used.
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") nr => ret,
            in("rdi") a,
            in("rsi") b,
            in("rdx") c,
            in("r10") d,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    if (-4095..0).contains(&ret) {
        Err(io::Error::from_raw_os_error(-ret as i32))
    } else {
        Ok(ret as u64)
    }
}

/// `ioperm(from, num, on)`: I/O port permission for this thread (needs CAP_SYS_RAWIO).
pub fn ioperm(from: u16, num: u16, on: bool) -> io::Result<()> {
    // SAFETY: ioperm changes this thread's I/O permission bitmap only; it reads no memory.
    unsafe { syscall3(SYS_IOPERM, u64::from(from), u64::from(num), u64::from(on)) }.map(|_| ())
}

/// `posix_fadvise(fd, offset, len, POSIX_FADV_DONTNEED)`: drops the (clean) cached pages of
/// the range, so the next read of it comes from the device, not from what we wrote.
pub fn drop_cached(file: &impl AsRawFd, offset: u64, len: u64) -> io::Result<()> {
    let fd = file.as_raw_fd() as u64;
    // SAFETY: fadvise64 takes a descriptor and numbers and touches no memory of ours.
    unsafe { syscall4(SYS_FADVISE64, fd, offset, len, FADV_DONTNEED) }.map(|_| ())
}

/// Whether `file` is a block device set read-only (`blockdev --setro`, a write-protected
/// card); `false` for anything that is not a block device.
pub fn block_read_only(file: &impl AsRawFd) -> bool {
    let mut ro: i32 = 0;
    let fd = file.as_raw_fd() as u64;
    let at = &mut ro as *mut i32 as u64;
    // SAFETY: BLKROGET writes one int through its pointer argument, which points at `ro`,
    // alive and writable for the whole call; on a file that is not a block device the
    // kernel refuses the request (ENOTTY) without touching it.
    let r = unsafe { syscall3(SYS_IOCTL, fd, BLKROGET, at) };
    r.is_ok() && ro != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropping_the_cache_of_a_file_works_and_a_bad_descriptor_is_an_error() {
        let p = std::env::temp_dir().join(format!("lifeboat-ctl-sys-{}", std::process::id()));
        std::fs::write(&p, [1u8; 8192]).unwrap();
        let f = std::fs::File::open(&p).unwrap();
        drop_cached(&f, 0, 8192).unwrap();
        struct Bad;
        impl AsRawFd for Bad {
            fn as_raw_fd(&self) -> i32 {
                -1
            }
        }
        assert_eq!(drop_cached(&Bad, 0, 1).unwrap_err().raw_os_error(), Some(9));
        assert!(!block_read_only(&f));
        assert!(!block_read_only(&Bad));
        let _ = std::fs::remove_file(&p);
    }
}
