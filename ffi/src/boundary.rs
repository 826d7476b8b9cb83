//! The panic boundary and pointer checks every extern function goes through.
//!
//! A Rust panic must never unwind into C (undefined behaviour), so every
//! extern body runs inside `std::panic::catch_unwind`. A panic inside a call
//! on a stack may have left it half-updated, so the stack is poisoned: every
//! later call on it returns `TCPKIT_ERR_PANIC`, except `tcpkit_stack_free`.

use crate::backend::Stack;
use crate::types::{tcpkit_result, TCPKIT_ERR_PANIC};

/// An opaque stack: addresses, listeners, connections, UDP sockets, timers.
///
/// Created by `tcpkit_stack_new` and owned by the caller until
/// `tcpkit_stack_free`. Used by one thread at a time; different stacks are
/// independent and may live on different threads.
#[derive(Debug)]
pub struct tcpkit_stack {
    pub(crate) inner: Stack,
    pub(crate) poisoned: bool,
}

/// Runs `body` inside `catch_unwind`; a panic returns `TCPKIT_ERR_PANIC`.
/// Used by functions that do not take a stack.
pub(crate) fn guard(body: impl FnOnce() -> tcpkit_result) -> tcpkit_result {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).unwrap_or(TCPKIT_ERR_PANIC)
}

/// Marks a stack poisoned after a caught panic.
///
/// # Safety
/// `s` is NULL or a live stack no one else borrows now.
pub(crate) unsafe fn poison(s: *mut tcpkit_stack) {
    // SAFETY: per this function's contract.
    if let Some(stack) = unsafe { s.as_mut() } {
        stack.poisoned = true;
    }
}

/// The panic boundary of every extern function that takes a stack:
/// `with_stack!(s, |st| body)` runs `body` with `st: &mut Stack` inside
/// `catch_unwind`. NULL `s` is `TCPKIT_ERR_NULL`, a poisoned stack is
/// `TCPKIT_ERR_PANIC`, and a panic in `body` poisons the stack and returns
/// `TCPKIT_ERR_PANIC`. `return` in `body` returns from `body` only.
///
/// Only for use in an `unsafe extern "C" fn` whose contract says `s` is NULL
/// or a live stack from `tcpkit_stack_new` used by one thread at a time.
macro_rules! with_stack {
    ($s:expr, |$st:ident| $body:expr) => {{
        let raw: *mut $crate::boundary::tcpkit_stack = $s;
        let caught = ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(
            || -> $crate::types::tcpkit_result {
                // SAFETY: the enclosing function's contract: `raw` is NULL
                // (as_mut gives None) or a live stack used by this thread only.
                let Some(stack) = (unsafe { raw.as_mut() }) else {
                    return $crate::types::TCPKIT_ERR_NULL;
                };
                if stack.poisoned {
                    return $crate::types::TCPKIT_ERR_PANIC;
                }
                let $st: &mut $crate::backend::Stack = &mut stack.inner;
                $body
            },
        ));
        match caught {
            Ok(r) => r,
            Err(_) => {
                // SAFETY: the closure's borrow ended with the unwind; `raw`
                // is the same live stack (or NULL, which poison ignores).
                unsafe { $crate::boundary::poison(raw) };
                $crate::types::TCPKIT_ERR_PANIC
            }
        }
    }};
}
pub(crate) use with_stack;

/// Early-returns `TCPKIT_ERR_NULL` from the enclosing closure when any
/// pointer is NULL.
macro_rules! check_null {
    ($($p:expr),+ $(,)?) => {
        if false $(|| $p.is_null())+ {
            return $crate::types::TCPKIT_ERR_NULL;
        }
    };
}
pub(crate) use check_null;

/// Early-returns the C code of an `Err(tcpkit_result)` from the enclosing closure.
macro_rules! try_c {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(code) => return code,
        }
    };
}
pub(crate) use try_c;
