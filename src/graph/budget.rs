//! A bound on the work of one computation: a number of steps, a deadline, and the request
//! giving up. Graph questions whose cost is not linear in their answer (enumerating paths,
//! reducing crossings) spend steps from a budget and stop, with what they have, when it runs
//! out, rather than run on past the time anyone waits for the answer.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Steps between two looks at the clock and the abandon flag: cheap enough to do often, rare
/// enough to cost nothing next to the steps themselves.
const CHECK_EVERY: u64 = 1024;

/// Why a computation stopped before it was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exhausted {
    /// It took the most steps it may (the number).
    Steps(u64),
    /// It reached its deadline.
    Deadline,
    /// The request it works for was dropped (timed out, or the client went away).
    Abandoned,
}

/// What a computation may still spend.
#[derive(Debug, Clone)]
pub struct Budget {
    limit: u64,
    spent: u64,
    next_check: u64,
    deadline: Option<Instant>,
    abandoned: Option<Arc<AtomicBool>>,
    exhausted: Option<Exhausted>,
}

impl Budget {
    /// At most `steps` steps, and (when given) nothing past `deadline`.
    pub fn new(steps: u64, deadline: Option<Instant>) -> Self {
        Budget {
            limit: steps,
            spent: 0,
            next_check: CHECK_EVERY,
            deadline,
            abandoned: None,
            exhausted: None,
        }
    }

    /// No bound at all: for tests, and for callers that bound the work otherwise.
    pub fn unlimited() -> Self {
        Budget::new(u64::MAX, None)
    }

    /// The same budget, also stopping once `flag` is set.
    pub fn abandoned_by(mut self, flag: Arc<AtomicBool>) -> Self {
        self.abandoned = Some(flag);
        self
    }

    /// Spends `steps`; an error once the budget is exhausted (and from then on).
    pub fn spend(&mut self, steps: u64) -> Result<(), Exhausted> {
        if let Some(why) = self.exhausted {
            return Err(why);
        }
        self.spent = self.spent.saturating_add(steps);
        if self.spent > self.limit {
            return self.stop(Exhausted::Steps(self.limit));
        }
        if self.spent >= self.next_check {
            self.next_check = self.spent.saturating_add(CHECK_EVERY);
            if self.deadline.is_some_and(|d| Instant::now() >= d) {
                return self.stop(Exhausted::Deadline);
            }
            if self
                .abandoned
                .as_ref()
                .is_some_and(|f| f.load(Ordering::Relaxed))
            {
                return self.stop(Exhausted::Abandoned);
            }
        }
        Ok(())
    }

    /// Steps spent so far.
    pub fn spent(&self) -> u64 {
        self.spent
    }

    /// Why the budget ran out, if it did.
    pub fn exhausted(&self) -> Option<Exhausted> {
        self.exhausted
    }

    fn stop(&mut self, why: Exhausted) -> Result<(), Exhausted> {
        self.exhausted = Some(why);
        Err(why)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn steps_run_out_and_stay_out() {
        let mut budget = Budget::new(10, None);
        assert_eq!(budget.spend(10), Ok(()));
        assert_eq!(budget.spend(1), Err(Exhausted::Steps(10)));
        assert_eq!(budget.spend(0), Err(Exhausted::Steps(10)));
        assert_eq!(budget.exhausted(), Some(Exhausted::Steps(10)));
    }

    #[test]
    fn a_past_deadline_or_an_abandoned_request_stops_within_a_check() {
        let past = Instant::now() - Duration::from_millis(1);
        let mut budget = Budget::new(u64::MAX, Some(past));
        let stopped = (0..2 * CHECK_EVERY).find_map(|_| budget.spend(1).err());
        assert_eq!(stopped, Some(Exhausted::Deadline));
        let flag = Arc::new(AtomicBool::new(false));
        let mut budget = Budget::unlimited().abandoned_by(flag.clone());
        assert!((0..2 * CHECK_EVERY).all(|_| budget.spend(1).is_ok()));
        flag.store(true, Ordering::Relaxed);
        let stopped = (0..2 * CHECK_EVERY).find_map(|_| budget.spend(1).err());
        assert_eq!(stopped, Some(Exhausted::Abandoned));
    }
}
