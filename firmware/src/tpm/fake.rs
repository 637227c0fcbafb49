//! A TPM in software for host tests: the commands lifeboat sends, answered as TPM 2.0
//! specifies (NV index rules: owner write, write lock until reset, read-back; PCR extend
//! and read of the SHA-256 bank), with faults on request (a TPM that stops answering).
use std::vec::Vec;

use sha2::{Digest, Sha256};

use super::{cc, rc, Error, Reader, Transport, ALG_SHA256, RH_OWNER, ST_NO_SESSIONS, ST_SESSIONS};

/// One NV index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NvIndex {
    pub handle: u32,
    pub attributes: u32,
    pub size: u16,
    pub data: Option<Vec<u8>>,
    pub locked: bool,
}

/// The fake TPM's state.
#[derive(Debug, Clone, Default)]
pub struct FakeTpm {
    pub started: bool,
    pub nv: Vec<NvIndex>,
    pub pcrs: [[u8; 32]; 24],
    /// Commands answered so far.
    pub commands: usize,
    /// From this command on (counted from 0), the TPM answers nothing (a timeout).
    pub dead_from: Option<usize>,
}

const RC_BAD_TAG: u32 = 0x1E;
const RC_COMMAND_CODE: u32 = 0x143;
const RC_NV_LOCKED: u32 = 0x148;
const RC_NV_DEFINED: u32 = 0x14C;
const RC_NV_RANGE: u32 = 0x146;
/// TPM_RC_HANDLE on the first handle.
const RC_HANDLE_1: u32 = 0x18B;
/// TPM_RC_VALUE.
const RC_VALUE: u32 = 0x84;

impl FakeTpm {
    pub fn new() -> FakeTpm {
        FakeTpm::default()
    }

    /// A power cycle: write locks end, PCRs return to zero, Startup is needed again.
    pub fn reset(&mut self) {
        self.started = false;
        self.pcrs = [[0; 32]; 24];
        for i in &mut self.nv {
            i.locked = false;
        }
    }

    fn index(&mut self, h: u32) -> Option<&mut NvIndex> {
        self.nv.iter_mut().find(|i| i.handle == h)
    }

    /// The response to `cmd`: Ok(params) or Err(rc). `tag` is the answer's tag.
    fn answer(&mut self, cmd: &[u8]) -> Result<(u16, Vec<u8>), u32> {
        let mut r = Reader::new(cmd);
        let tag = r.u16().map_err(|_| RC_BAD_TAG)?;
        let _size = r.u32().map_err(|_| RC_BAD_TAG)?;
        let code = r.u32().map_err(|_| RC_BAD_TAG)?;
        let e = |_| RC_VALUE;
        if code != cc::STARTUP && !self.started {
            return Err(rc::INITIALIZE);
        }
        let handles = match code {
            cc::PCR_EXTEND | cc::NV_DEFINE_SPACE => 1,
            cc::NV_WRITE | cc::NV_READ | cc::NV_WRITE_LOCK => 2,
            _ => 0,
        };
        let mut h = [0u32; 2];
        for x in h.iter_mut().take(handles) {
            *x = r.u32().map_err(e)?;
        }
        if tag == ST_SESSIONS {
            let n = r.u32().map_err(e)?;
            r.take(n as usize).map_err(e)?;
        }
        let mut out = Vec::new();
        match code {
            cc::STARTUP => {
                if self.started {
                    return Err(rc::INITIALIZE);
                }
                self.started = true;
            }
            cc::GET_CAPABILITY => {
                let (cap, prop, _n) = (
                    r.u32().map_err(e)?,
                    r.u32().map_err(e)?,
                    r.u32().map_err(e)?,
                );
                out.push(0);
                out.extend(cap.to_be_bytes());
                out.extend(1u32.to_be_bytes());
                out.extend(prop.to_be_bytes());
                out.extend(*b"FAKE");
            }
            cc::PCR_EXTEND => {
                let pcr = h[0] as usize;
                if pcr >= 24 {
                    return Err(RC_HANDLE_1);
                }
                let n = r.u32().map_err(e)?;
                for _ in 0..n {
                    let alg = r.u16().map_err(e)?;
                    if alg != ALG_SHA256 {
                        return Err(RC_VALUE);
                    }
                    let d = r.take(32).map_err(e)?;
                    let mut s = Sha256::new();
                    s.update(self.pcrs[pcr]);
                    s.update(d);
                    self.pcrs[pcr] = s.finalize().into();
                }
            }
            cc::PCR_READ => {
                let _count = r.u32().map_err(e)?;
                let _alg = r.u16().map_err(e)?;
                let sel = r.sized_u8().map_err(e)?.to_vec();
                out.extend(7u32.to_be_bytes());
                out.extend(1u32.to_be_bytes());
                out.extend(ALG_SHA256.to_be_bytes());
                out.push(sel.len() as u8);
                out.extend(&sel);
                let chosen: Vec<usize> = (0..24)
                    .filter(|p| sel.get(p / 8).is_some_and(|b| b & (1 << (p % 8)) != 0))
                    .collect();
                out.extend((chosen.len() as u32).to_be_bytes());
                for p in chosen {
                    out.extend(32u16.to_be_bytes());
                    out.extend(self.pcrs[p]);
                }
            }
            cc::NV_READ_PUBLIC => {
                let handle = r.u32().map_err(e)?;
                let i = self.index(handle).ok_or(RC_HANDLE_1)?.clone();
                let mut attributes = i.attributes;
                if i.data.is_some() {
                    attributes |= super::floor::attr::WRITTEN;
                }
                if i.locked {
                    attributes |= super::floor::attr::WRITELOCKED;
                }
                out.extend(14u16.to_be_bytes());
                out.extend(handle.to_be_bytes());
                out.extend(ALG_SHA256.to_be_bytes());
                out.extend(attributes.to_be_bytes());
                out.extend(0u16.to_be_bytes());
                out.extend(i.size.to_be_bytes());
                out.extend(34u16.to_be_bytes());
                out.extend([0u8; 34]);
            }
            cc::NV_DEFINE_SPACE => {
                if h[0] != RH_OWNER {
                    return Err(RC_HANDLE_1);
                }
                let _auth = r.sized().map_err(e)?;
                let mut p = Reader::new(r.sized().map_err(e)?);
                let handle = p.u32().map_err(e)?;
                let _alg = p.u16().map_err(e)?;
                let attributes = p.u32().map_err(e)?;
                let _policy = p.sized().map_err(e)?;
                let size = p.u16().map_err(e)?;
                if self.index(handle).is_some() {
                    return Err(RC_NV_DEFINED);
                }
                self.nv.push(NvIndex {
                    handle,
                    attributes,
                    size,
                    data: None,
                    locked: false,
                });
            }
            cc::NV_WRITE => {
                let data = r.sized().map_err(e)?.to_vec();
                let offset = r.u16().map_err(e)?;
                let owner = h[0] == RH_OWNER;
                let i = self.index(h[1]).ok_or(0x18Cu32)?;
                if !owner || i.attributes & super::floor::attr::OWNERWRITE == 0 {
                    return Err(0x149); // TPM_RC_NV_AUTHORIZATION
                }
                if i.locked {
                    return Err(RC_NV_LOCKED);
                }
                if offset != 0 || data.len() != i.size as usize {
                    return Err(RC_NV_RANGE);
                }
                i.data = Some(data);
            }
            cc::NV_READ => {
                let size = r.u16().map_err(e)?;
                let offset = r.u16().map_err(e)?;
                let i = self.index(h[1]).ok_or(0x18Cu32)?;
                let d = i.data.as_ref().ok_or(rc::NV_UNINITIALIZED)?;
                let d = d
                    .get(offset as usize..(offset + size) as usize)
                    .ok_or(RC_NV_RANGE)?;
                out.extend((d.len() as u16).to_be_bytes());
                out.extend(d);
            }
            cc::NV_WRITE_LOCK => {
                let i = self.index(h[1]).ok_or(0x18Cu32)?;
                i.locked = true;
            }
            _ => return Err(RC_COMMAND_CODE),
        }
        Ok((tag, out))
    }
}

impl Transport for FakeTpm {
    fn transact(&mut self, cmd: &[u8], rsp: &mut [u8]) -> Result<usize, Error> {
        let n = self.commands;
        self.commands += 1;
        if self.dead_from.is_some_and(|d| n >= d) {
            return Err(Error::Timeout("no answer to the command"));
        }
        let mut out = Vec::new();
        match self.answer(cmd) {
            Ok((tag, params)) => {
                out.extend(tag.to_be_bytes());
                out.extend([0u8; 4]);
                out.extend(0u32.to_be_bytes());
                if tag == ST_SESSIONS {
                    out.extend((params.len() as u32).to_be_bytes());
                    out.extend(&params);
                    out.extend([0, 0, 1, 0, 0]); // nonce, attributes (continue), hmac
                } else {
                    out.extend(&params);
                }
            }
            Err(code) => {
                out.extend(ST_NO_SESSIONS.to_be_bytes());
                out.extend([0u8; 4]);
                out.extend(code.to_be_bytes());
            }
        }
        let len = out.len() as u32;
        out[2..6].copy_from_slice(&len.to_be_bytes());
        rsp.get_mut(..out.len())
            .ok_or(Error::Interface("response longer than the buffer"))?
            .copy_from_slice(&out);
        Ok(out.len())
    }
}
