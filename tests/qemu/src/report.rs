//! Check results, recorded while a scenario runs and printed after it, so the
//! semihosting output does not count in the scenario's stack high-water mark.

use core::cell::UnsafeCell;
use core::fmt::{self, Write};

const MAX_PENDING: usize = 48;
const WHY_LEN: usize = 120;

/// A check's name: one string, or a group and a detail (`sio decode` `2["hello",1]`).
#[derive(Clone, Copy)]
pub struct Name(&'static str, &'static str);

impl From<&'static str> for Name {
    fn from(s: &'static str) -> Self {
        Name(s, "")
    }
}

impl From<(&'static str, &'static str)> for Name {
    fn from((group, detail): (&'static str, &'static str)) -> Self {
        Name(group, detail)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.1 {
            "" => f.write_str(self.0),
            d => write!(f, "{} {}", self.0, d),
        }
    }
}

struct Entry {
    name: Name,
    ok: bool,
    why: [u8; WHY_LEN],
    why_len: usize,
}

struct Report {
    pending: [Option<Entry>; MAX_PENDING],
    len: usize,
    passed: u32,
    failed: u32,
    /// Passing checks are not recorded (a second pass over the same checks).
    muted: bool,
}

struct Cell(UnsafeCell<Report>);

// SAFETY: one core, no interrupts enabled; the panic and fault handlers reach
// the report only to flush it and never return.
unsafe impl Sync for Cell {}

static REPORT: Cell = Cell(UnsafeCell::new(Report {
    pending: [const { None }; MAX_PENDING],
    len: 0,
    passed: 0,
    failed: 0,
    muted: false,
}));

fn with<R>(f: impl FnOnce(&mut Report) -> R) -> R {
    // SAFETY: see `Cell`; no caller holds the reference across another call.
    f(unsafe { &mut *REPORT.0.get() })
}

struct Why<'a>(&'a mut [u8; WHY_LEN], usize);

impl Write for Why<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            if self.1 < WHY_LEN {
                self.0[self.1] = b;
                self.1 += 1;
            }
        }
        Ok(())
    }
}

/// Records one check: `ok NAME`, or `FAIL NAME: why` (formatted only on failure).
pub fn check(name: impl Into<Name>, ok: bool, why: fmt::Arguments<'_>) {
    if ok && with(|r| r.muted) {
        return;
    }
    if with(|r| r.len == MAX_PENDING) {
        flush();
    }
    let mut entry = Entry {
        name: name.into(),
        ok,
        why: [0; WHY_LEN],
        why_len: 0,
    };
    if !ok {
        let mut w = Why(&mut entry.why, 0);
        let _ = w.write_fmt(why);
        entry.why_len = w.1;
    }
    with(|r| {
        if ok {
            r.passed += 1;
        } else {
            r.failed += 1;
        }
        r.pending[r.len] = Some(entry);
        r.len += 1;
    });
}

/// Prints and forgets the recorded checks.
pub fn flush() {
    let n = with(|r| r.len);
    for i in 0..n {
        let Some(e) = with(|r| r.pending[i].take()) else {
            continue;
        };
        if e.ok {
            crate::println!("ok {}", e.name);
        } else {
            let why = core::str::from_utf8(&e.why[..e.why_len]).unwrap_or("(reason not UTF-8)");
            crate::println!("FAIL {}: {}", e.name, why);
        }
    }
    with(|r| r.len = 0);
}

/// Mutes passing checks (failures are still recorded and counted).
pub fn mute(on: bool) {
    with(|r| r.muted = on);
}

/// (passed, failed) so far.
pub fn totals() -> (u32, u32) {
    with(|r| (r.passed, r.failed))
}

/// `check!(name, condition, "why {}", args...)`.
#[macro_export]
macro_rules! check {
    ($name:expr, $ok:expr, $($why:tt)+) => {
        $crate::report::check($name, $ok, format_args!($($why)+))
    };
}

/// `check_eq!(name, got, want)`: fails with both values (`Debug`).
#[macro_export]
macro_rules! check_eq {
    ($name:expr, $got:expr, $want:expr $(,)?) => {{
        let (got, want) = (&$got, &$want);
        $crate::report::check(
            $name,
            got == want,
            format_args!("got {:?}, want {:?}", got, want),
        )
    }};
}
