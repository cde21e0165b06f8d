//! The order cases start in: the longest first, so a run does not end with one slow case
//! on one core while the others idle (the greedy "longest processing time first" rule).
//!
//! Invariant: only when a case starts changes, never what it is: every case runs exactly
//! once, keeps its position (`seq`) in the reports, and its verdict cannot depend on the
//! order. The cost is a guess from the case's inputs alone (no case is run to learn it), so
//! a wrong guess costs time, never a result.

use crate::cards::LoadedCard;
use crate::scenario::{Case, Method, ServiceFault, StepKind};
use std::time::Duration;

/// APDUs a case with a card usually sends (a PIN path reads about 20, a face path about
/// 40 with the photo): what a per-APDU card delay is multiplied by.
const APDUS_PER_CASE: u32 = 30;

/// What a face try costs, by the frames it may look at: the matcher's work per frame on
/// the reference machine (docs/measurements.md: about 17 ms) plus the clip's rendering.
const FACE_WORK_PER_FRAME: Duration = Duration::from_millis(20);

/// The time `case` is expected to take at most: what it waits (a mute card or a held
/// service runs to a deadline, a slow one adds its delay, a `wait` step its length) and
/// what its face path computes. Zero for a case with nothing slow in it.
pub fn expected_cost(case: &Case, card: Option<&LoadedCard>) -> Duration {
    let mut cost = Duration::ZERO;
    if let Some(card) = card {
        let faults = &card.profile.faults;
        if faults.mute || faults.tear_on_apdu.is_some() {
            // The card's silence runs to the channel's deadline (half the step's).
            cost += case.step_deadline / 2;
        }
        if let Some(delay) = faults.delay_per_apdu {
            cost += delay.saturating_mul(APDUS_PER_CASE);
        }
    }
    let mut fault = case.service.clone();
    // The query comes at the end of the card path (a PIN's or a face's step): the fault in
    // force then is charged once.
    let mut query = Duration::ZERO;
    for step in &case.steps {
        let deadline = step.deadline.unwrap_or(case.step_deadline);
        match &step.kind {
            StepKind::Wait(d) => cost += *d,
            StepKind::Service(f) => fault = f.clone(),
            StepKind::EnterPin(_) | StepKind::Choose(_) => {
                query = match &fault {
                    ServiceFault::Timeout => deadline,
                    ServiceFault::Slow(d) => *d,
                    _ => Duration::ZERO,
                }
            }
            _ => {}
        }
    }
    cost += query;
    if case.chooses(Method::Face) {
        let frames = case.camera.as_ref().map_or(45, |c| c.frames);
        cost += FACE_WORK_PER_FRAME.saturating_mul(frames);
        // An attack clip is rendered per case (a live clip is shared by the run).
        if case.camera.as_ref().is_some_and(|c| c.attack.is_some()) {
            cost += FACE_WORK_PER_FRAME.saturating_mul(frames);
        }
    }
    cost
}

/// The order to start cases in, given each case's expected cost (by position): the
/// costliest first, ties in the given order.
pub fn start_order(costs: &[Duration]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..costs.len()).collect();
    // Stable: equal costs keep the scenario order.
    order.sort_by(|&a, &b| costs[b].cmp(&costs[a]));
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn every_case_starts_exactly_once_costliest_first(
            costs in proptest::collection::vec(0u64..50, 0..200)
        ) {
            let costs: Vec<Duration> = costs.into_iter().map(Duration::from_millis).collect();
            let order = start_order(&costs);
            let mut seen = order.clone();
            seen.sort_unstable();
            prop_assert_eq!(seen, (0..costs.len()).collect::<Vec<_>>());
            for pair in order.windows(2) {
                let (a, b) = (pair[0], pair[1]);
                prop_assert!(costs[a] > costs[b] || (costs[a] == costs[b] && a < b));
            }
        }
    }

    fn cases(text: &str) -> Vec<Case> {
        let dir = std::env::temp_dir().join(format!("myna-schedule-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("s.yaml");
        std::fs::write(&path, text).expect("scenario");
        let cases = crate::scenario::load_cases(&path, &[]).expect("a valid scenario");
        let _ = std::fs::remove_dir_all(&dir);
        cases
    }

    #[test]
    fn what_a_case_waits_for_is_its_cost() {
        let scenario = |extra: &str| {
            format!(
                "title: t\ndate: 2025-06-01\nstep_deadline: 4s\n{extra}\
                 steps:\n  - wait: 1s\n  - choose: pin\n  - enter_pin: correct\n"
            )
        };
        let plain = &cases(&scenario(""))[0];
        assert_eq!(expected_cost(plain, None), Duration::from_secs(1));
        let held = &cases(&scenario("service: timeout\n"))[0];
        // The wait, and the query to a held service runs to its step's deadline.
        assert_eq!(expected_cost(held, None), Duration::from_secs(5));
        let slow = &cases(&scenario("service: {slow: 300ms}\n"))[0];
        assert_eq!(expected_cost(slow, None), Duration::from_millis(1_300));
    }
}
