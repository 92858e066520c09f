//! Admission at capacity under racing threads: a call is shed only when every slot is
//! held.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use voxscope_call::{Call, CallLayer, Protocol};

#[test]
fn admission_never_sheds_while_a_slot_is_free() {
    const CAPACITY: usize = 4;
    const ROUNDS: usize = 20_000;
    let layer = CallLayer::builder(Protocol::Twilio).max_calls(CAPACITY).build().unwrap();
    let _held: Vec<Call> = (0..CAPACITY - 1).map(|_| layer.open_call(None).unwrap()).collect();
    let mut last = layer.open_call(None);
    let taken: Arc<Mutex<Vec<Call>>> = Arc::default();
    let stop = AtomicBool::new(false);
    let mut sheds = 0;
    std::thread::scope(|scope| {
        // Racers try all the time; a call they win, they keep.
        for _ in 0..3 {
            scope.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(call) = layer.open_call(None) {
                        taken.lock().unwrap().push(call);
                    }
                }
            });
        }
        for round in 0..ROUNDS {
            // Free exactly one slot, then ask for it.
            drop(last.take());
            if let Some(call) = layer.open_call(None) {
                last = Some(call);
                continue;
            }
            sheds += 1;
            // Shed: fair only if a racer holds the freed slot, and nothing frees slots
            // but this loop, so the layer must still be full.
            assert_eq!(layer.active_calls(), CAPACITY, "round {round}: shed with a slot free");
            let deadline = Instant::now() + Duration::from_secs(10);
            while last.is_none() && Instant::now() < deadline {
                last = taken.lock().unwrap().pop();
            }
            assert!(last.is_some(), "round {round}: no racer holds the freed slot");
        }
        stop.store(true, Ordering::Relaxed);
    });
    assert_eq!(layer.active_calls(), CAPACITY);
    println!("{sheds} of {ROUNDS} freed slots went to a racer");
}
