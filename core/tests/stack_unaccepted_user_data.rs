//! An unaccepted passive connection keeps its listener in the slot word
//! that later holds the application's user data. Its handle must be
//! refused until `accept` (so `UserData` can neither read the listener
//! word nor overwrite it), events must never carry the listener word as
//! user data, and the listener word must still be right when the
//! connection is reset before accept, accepted after other connections'
//! user data was set, or aborted by `listener_close`.

#[path = "stack_util.rs"]
mod util;

use tcpkit::stack::{ConnHandle, ConnOption::UserData, Error, EventKind, ListenAddr, State};
use tcpkit::Duration;
use util::*;

#[test]
fn unaccepted_handles_are_refused_and_never_show_the_listener_word() {
    let mut p = Pair::new();
    // A second listener first, so the tested one is not at index 0 (its
    // word is then not 0, which would look like "no user data").
    let _other = p.b.listen(ListenAddr::Any, 81, 4).expect("listen");
    let l = p.b.listen(ListenAddr::Any, 80, 16).expect("listen");
    let c: Vec<ConnHandle> = (0..4)
        .map(|_| p.a.connect(p.now, sa(B4, 80), 0).expect("connect"))
        .collect();
    p.settle();
    for &h in &c {
        p.a.send(h, b"hello").expect("send");
    }
    p.settle();
    let s0 = p.b.accept(l).expect("accept");
    p.b.set_option(s0, UserData, 0x5eed).expect("user data");
    // The other passive connections sit in the next slots, same generation.
    let guess = |k: u64| ConnHandle::from_raw(s0.raw() + k);
    for k in 1..4 {
        assert_eq!(
            p.b.get_option(guess(k), UserData),
            Err(Error::InvalidHandle)
        );
        assert_eq!(
            p.b.set_option(guess(k), UserData, 0xdead),
            Err(Error::InvalidHandle)
        );
        assert!(p.b.info(guess(k)).is_err());
    }
    // Client 1 resets its connection before the server accepts it.
    p.a.abort(c[1]).expect("abort");
    p.settle();
    let events = drain(&mut p.b);
    assert!(
        events
            .iter()
            .all(|e| e.handle == s0.raw() || e.user_data == 0),
        "an event of an unaccepted connection carries data: {events:?}"
    );
    // The accept queue still works off the listener word: the survivors
    // come out (the reset one too, or not at all, but never garbage).
    let mut accepted = Vec::new();
    while let Ok(h) = p.b.accept(l) {
        accepted.push(h);
    }
    assert!(
        accepted.contains(&guess(2)) && accepted.contains(&guess(3)),
        "{accepted:?}"
    );
    for &h in &accepted {
        assert_eq!(p.b.get_option(h, UserData), Ok(0), "fresh user data");
    }
    assert_eq!(p.b.get_option(s0, UserData), Ok(0x5eed));
    let mut got = Vec::new();
    read_all(&mut p.b, guess(2), &mut got);
    assert_eq!(got, b"hello");
    let events = drain(&mut p.b);
    assert!(
        events
            .iter()
            .all(|e| e.handle == s0.raw() || e.user_data == 0),
        "{events:?}"
    );
}

#[test]
fn listener_close_aborts_unaccepted_connections_it_owns() {
    let mut p = Pair::new();
    let _other = p.b.listen(ListenAddr::Any, 81, 4).expect("listen");
    let l = p.b.listen(ListenAddr::Any, 80, 16).expect("listen");
    let kept = p.b.listen(ListenAddr::Any, 82, 16).expect("listen");
    let c80: Vec<ConnHandle> = (0..3)
        .map(|_| p.a.connect(p.now, sa(B4, 80), 0).expect("connect"))
        .collect();
    let c82 = p.a.connect(p.now, sa(B4, 82), 0).expect("connect");
    p.settle();
    drain(&mut p.a);
    p.b.listener_close(l).expect("close listener");
    assert!(p.run_until(Duration::from_secs(5), |p| c80
        .iter()
        .all(|&h| !matches!(p.a.state(h), Ok(State::Established)))));
    // Only port 80's connections were aborted: port 82's still has its
    // listener and comes out of its accept queue.
    assert_eq!(p.a.state(c82), Ok(State::Established));
    let s82 = p.b.accept(kept).expect("accept on the kept listener");
    assert_eq!(p.b.get_option(s82, UserData), Ok(0));
    p.a.send(c82, b"x").expect("send");
    p.settle();
    let mut got = Vec::new();
    read_all(&mut p.b, s82, &mut got);
    assert_eq!(got, b"x");
    assert!(has(&drain(&mut p.a), EventKind::Closed, c80[0].raw()));
}
