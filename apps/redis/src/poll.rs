//! Readiness of many sockets at once: a small safe front over Linux's `epoll`, the only
//! unsafe code of `pcoll-redis`. Level-triggered: a socket is reported for as long as it has
//! bytes to read (or room to write, when asked for), so the event loop may read a bounded
//! amount per round and come back for the rest.

#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// One ready socket: its token, and what it is ready for.
#[derive(Debug, Clone, Copy)]
pub struct Ready {
    /// The token it was registered with.
    pub token: u64,
    /// Bytes to read, or the peer closed (a read then says which).
    pub read: bool,
    /// Room to write.
    pub write: bool,
}

/// What a socket is watched for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Want {
    /// Bytes to read (or the peer closing).
    pub read: bool,
    /// Room to write.
    pub write: bool,
}

/// An epoll instance.
pub struct Poller {
    fd: OwnedFd,
    events: Vec<libc::epoll_event>,
}

impl Poller {
    /// A new, empty interest list.
    pub fn new() -> io::Result<Poller> {
        // SAFETY: epoll_create1 takes flags only; a non-negative result is a new descriptor
        // that this process owns and nothing else closes.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Poller {
            // SAFETY: `fd` was just returned by epoll_create1 (see above).
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            events: Vec::with_capacity(1024),
        })
    }

    fn ctl(&self, op: libc::c_int, fd: RawFd, token: u64, want: Want) -> io::Result<()> {
        let mut events = 0;
        if want.read {
            events |= (libc::EPOLLIN | libc::EPOLLRDHUP) as u32;
        }
        if want.write {
            events |= libc::EPOLLOUT as u32;
        }
        let mut ev = libc::epoll_event { events, u64: token };
        // SAFETY: `ev` is a valid epoll_event for the duration of the call; the kernel
        // checks both descriptors.
        let r = unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), op, fd, &mut ev) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Watches `fd` for `want`, reported with `token`.
    pub fn add(&self, fd: &impl AsRawFd, token: u64, want: Want) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_ADD, fd.as_raw_fd(), token, want)
    }

    /// Changes what `fd` is watched for.
    pub fn modify(&self, fd: &impl AsRawFd, token: u64, want: Want) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_MOD, fd.as_raw_fd(), token, want)
    }

    /// Stops watching `fd` (closing it does too; this is for clarity).
    pub fn remove(&self, fd: &impl AsRawFd) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_DEL, fd.as_raw_fd(), 0, Want::default())
    }

    /// Waits until a watched socket is ready or `timeout` passes (`None`: no limit), and
    /// returns the ready ones. An interrupted wait returns none.
    pub fn wait(&mut self, timeout: Option<Duration>) -> io::Result<Vec<Ready>> {
        let ms = timeout.map_or(-1, |t| {
            // Round up, so that a deadline 0.4 ms away does not spin.
            t.as_micros().div_ceil(1000).min(i32::MAX as u128) as libc::c_int
        });
        let cap = self.events.capacity();
        // SAFETY: the kernel writes at most `cap` events into the vector's spare capacity
        // and returns how many; `set_len` below covers exactly those.
        let n = unsafe {
            libc::epoll_wait(
                self.fd.as_raw_fd(),
                self.events.as_mut_ptr(),
                cap as libc::c_int,
                ms,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted {
                Ok(Vec::new())
            } else {
                Err(e)
            };
        }
        // SAFETY: epoll_wait initialised the first `n` (<= cap) entries.
        unsafe { self.events.set_len(n as usize) };
        let out = self
            .events
            .iter()
            .map(|e| {
                let bits = e.events;
                let err = (libc::EPOLLERR | libc::EPOLLHUP | libc::EPOLLRDHUP) as u32;
                Ready {
                    token: e.u64,
                    read: bits & (libc::EPOLLIN as u32 | err) != 0,
                    write: bits & libc::EPOLLOUT as u32 != 0,
                }
            })
            .collect();
        self.events.clear();
        Ok(out)
    }
}
