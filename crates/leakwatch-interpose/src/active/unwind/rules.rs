//! One unwind rule per return address on x86_64 (see the parent module's
//! "Rules").

use super::*;

/// gimli's CFI evaluation context in fixed-size storage, as framehop's.
#[cfg(target_arch = "x86_64")]
pub(super) type Context = gimli::UnwindContext<
    usize,
    <MustNotAllocateDuringUnwind as framehop::AllocationPolicy>::GimliUnwindContextStorage<usize>,
>;

/// One frame's unwind rule on x86_64, in a word: bits 0..8 the kind, 8..40
/// the CFA's offset from its register, 40..56 where `rbp` was saved,
/// relative to the CFA (0: unchanged). The return address is at CFA − 8.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Rule(pub(super) u64);

#[cfg(target_arch = "x86_64")]
impl Rule {
    /// The stack ends here (the return address is undefined).
    pub(super) const END: Rule = Rule(1);
    /// CFA = `rsp` + offset.
    pub(super) const SP: u64 = 2;
    /// CFA = `rbp` + offset.
    pub(super) const BP: u64 = 3;
    /// A row of another shape, or no FDE: framehop unwinds this frame.
    pub(super) const FRAMEHOP: Rule = Rule(4);
    /// The address is in no listed object's code: the walk ends before it.
    pub(super) const OUTSIDE: Rule = Rule(5);

    pub(super) fn new(kind: u64, cfa_offset: i32, bp_offset: i16) -> Rule {
        Rule(kind | u64::from(cfa_offset as u32) << 8 | u64::from(bp_offset as u16) << 40)
    }

    /// The rule for `row`, as framehop translates rows for its cache.
    pub(super) fn from_row<S>(row: &gimli::UnwindTableRow<usize, S>) -> Rule
    where
        S: gimli::UnwindContextStorage<usize>,
    {
        use gimli::{CfaRule, RegisterRule, X86_64};
        match row.register(X86_64::RA) {
            None | Some(RegisterRule::Undefined) => return Rule::END,
            Some(RegisterRule::Offset(-8)) => {}
            Some(_) => return Rule::FRAMEHOP,
        }
        let bp_offset = match row.register(X86_64::RBP) {
            None | Some(RegisterRule::Undefined | RegisterRule::SameValue) => 0,
            Some(RegisterRule::Offset(offset)) => match i16::try_from(offset) {
                Ok(offset) if offset != 0 => offset,
                _ => return Rule::FRAMEHOP,
            },
            Some(_) => return Rule::FRAMEHOP,
        };
        let CfaRule::RegisterAndOffset { register, offset } = row.cfa() else {
            return Rule::FRAMEHOP;
        };
        let kind = match *register {
            X86_64::RSP => Rule::SP,
            X86_64::RBP => Rule::BP,
            _ => return Rule::FRAMEHOP,
        };
        match i32::try_from(*offset) {
            Ok(offset) => Rule::new(kind, offset, bp_offset),
            Err(_) => Rule::FRAMEHOP,
        }
    }

    /// Unwinds one frame by this rule (one of `SP` or `BP`, or `END`), as
    /// framehop's `unwind_frame` would: the caller's return address, or
    /// `None` at the stack's end.
    #[inline(always)]
    pub(super) fn exec(
        self,
        regs: &mut UnwindRegsNative,
        read: &mut impl FnMut(u64) -> Result<u64, ()>,
    ) -> Result<Option<u64>, ()> {
        let kind = self.0 & 0xff;
        let cfa_offset = i64::from((self.0 >> 8) as u32 as i32);
        let bp_offset = i64::from((self.0 >> 40) as u16 as i16);
        let (sp, bp) = (regs.sp(), regs.bp());
        let base = match kind {
            Rule::SP => sp,
            // A frame-pointer chain ends at a zero `rbp`.
            Rule::BP if bp == 0 => return Ok(None),
            Rule::BP => bp,
            _ => return Ok(None),
        };
        let cfa = base.checked_add_signed(cfa_offset).ok_or(())?;
        // Every frame's CFA lies above its stack pointer: one that does not
        // is a bad rule, not a frame.
        if cfa <= sp {
            return Err(());
        }
        let ret = read(cfa - 8)?;
        let bp = if bp_offset == 0 {
            bp
        } else {
            read(cfa.checked_add_signed(bp_offset).ok_or(())?)?
        };
        if ret == 0 {
            return Ok(None);
        }
        regs.set_ip(ret);
        regs.set_sp(cfa);
        regs.set_bp(bp);
        Ok(Some(ret))
    }
}

/// Entries in a [`Rules`] table; it is cleared when half are taken, so a
/// probe ends within a few entries.
#[cfg(target_arch = "x86_64")]
pub(super) const RULES: usize = 4096;

/// Rules by address (see the module docs): open addressing with linear
/// probing over `(key, rule)` pairs, entry `i` at `2 * i`, key 0 for a free
/// entry.
#[cfg(target_arch = "x86_64")]
pub(super) struct Rules {
    pub(super) entries: Box<[u64]>,
    pub(super) taken: usize,
}

#[cfg(target_arch = "x86_64")]
impl Rules {
    pub(super) fn new() -> Rules {
        Rules {
            // Zeroed (`calloc`), so its pages are mapped only as entries
            // are written.
            entries: vec![0; 2 * RULES].into_boxed_slice(),
            taken: 0,
        }
    }

    /// The key of a frame at `address`: a return address, or the
    /// capture's own program counter (looked up at itself, not one byte
    /// before), told apart by the top bit, which no user-space address has.
    #[inline(always)]
    pub(super) fn key(address: u64, first: bool) -> u64 {
        address | u64::from(first) << 63
    }

    #[inline(always)]
    pub(super) fn home(key: u64) -> usize {
        (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - RULES.trailing_zeros())) as usize
    }

    /// The rule held for `key`, if any.
    #[inline(always)]
    pub(super) fn get(&self, key: u64) -> Option<Rule> {
        let mut i = Rules::home(key);
        loop {
            let k = self.entries[2 * i];
            if k == key {
                return Some(Rule(self.entries[2 * i + 1]));
            }
            if k == 0 {
                return None;
            }
            i = (i + 1) % RULES;
        }
    }

    /// The rule for `frame`, derived and kept if not held yet.
    #[inline(always)]
    pub(super) fn rule(&mut self, objects: &Objects, frame: FrameAddress) -> Rule {
        let first = !frame.is_return_address();
        let key = Rules::key(frame.address(), first);
        match self.get(key) {
            Some(rule) => rule,
            None => self.derive(objects, frame, key),
        }
    }

    #[cold]
    #[inline(never)]
    pub(super) fn derive(&mut self, objects: &Objects, frame: FrameAddress, key: u64) -> Rule {
        let rule = if !objects.holds(frame.address()) {
            Rule::OUTSIDE
        } else if let Ok(mut context) = objects.context.try_lock() {
            Rules::from_cfi(objects, &mut context, frame.address_for_lookup())
        } else {
            // Another walker derives a rule now: framehop unwinds this
            // frame, and the rule is derived on a later walk.
            return Rule::FRAMEHOP;
        };
        if self.taken >= RULES / 2 {
            self.entries.fill(0);
            self.taken = 0;
        }
        let mut i = Rules::home(key);
        while self.entries[2 * i] != 0 {
            i = (i + 1) % RULES;
        }
        self.entries[2 * i] = key;
        self.entries[2 * i + 1] = rule.0;
        self.taken += 1;
        rule
    }

    /// The rule for `address` from its object's `.eh_frame`.
    pub(super) fn from_cfi(objects: &Objects, context: &mut Context, address: u64) -> Rule {
        let Some(found) = objects.object_of(address) else {
            return Rule::FRAMEHOP;
        };
        let bases = gimli::BaseAddresses::default()
            .set_eh_frame_hdr(found.eh_frame_hdr.0)
            .set_eh_frame(found.eh_frame.0);
        let hdr = gimli::EhFrameHdr::new(bytes(found.eh_frame_hdr), gimli::NativeEndian);
        let Ok(hdr) = hdr.parse(&bases, 8) else {
            return Rule::FRAMEHOP;
        };
        let Some(table) = hdr.table() else {
            return Rule::FRAMEHOP;
        };
        let eh_frame = gimli::EhFrame::new(bytes(found.eh_frame), gimli::NativeEndian);
        match table.unwind_info_for_address(
            &eh_frame,
            &bases,
            context,
            address,
            gimli::UnwindSection::cie_from_offset,
        ) {
            Ok(row) => Rule::from_row(row),
            Err(_) => Rule::FRAMEHOP,
        }
    }
}
