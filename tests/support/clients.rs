//! Concurrent producers posting a [`Workload`], recording what each request got.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use tokio::sync::Mutex;

use super::workload::Workload;
use super::{Answer, Service};

/// What one request got.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Never sent: the clients stopped first, or its plan was not acknowledged.
    NotSent,
    /// An HTTP answer.
    Answered { answer: Answer, sent: Instant },
    /// No answer: the connection failed or broke (the service was killed).
    Lost { error: String, sent: Instant },
}

impl Outcome {
    pub fn acknowledged(&self) -> bool {
        matches!(self, Outcome::Answered { answer, .. } if answer.is_success())
    }
}

/// Shared between the clients and whoever watches them.
#[derive(Debug, Default)]
pub struct Control {
    /// Requests answered 2xx so far.
    pub acknowledged: AtomicUsize,
    /// Set to make the clients stop taking new work.
    pub stop: AtomicBool,
}

/// Units of work in posting order: a plan with its event, or one event. An event is posted
/// by the client that posted its plan, once the plan is acknowledged.
pub fn units(workload: &Workload, wanted: impl Fn(usize) -> bool) -> Vec<Vec<usize>> {
    let mut units: Vec<Vec<usize>> = Vec::new();
    for r in workload.requests.iter().filter(|r| wanted(r.index)) {
        match r.after() {
            Some(plan) if units.last().is_some_and(|u| u.contains(&plan)) => {
                units.last_mut().unwrap().push(r.index);
            }
            _ => units.push(vec![r.index]),
        }
    }
    units
}

/// Starts posting the whole workload in the background, until it runs out or the returned
/// control's `stop` is set.
pub fn start(
    service: &Arc<Service>,
    workload: &Arc<Workload>,
    clients: usize,
) -> (Arc<Control>, tokio::task::JoinHandle<Vec<Outcome>>) {
    let control = Arc::new(Control::default());
    let units = units(workload, |_| true);
    let (service, workload) = (service.clone(), workload.clone());
    let posting = tokio::spawn(post(service, workload, units, clients, control.clone()));
    (control, posting)
}

/// Posts `units` with `clients` concurrent clients until they run out or `control.stop` is
/// set; returns every request's outcome, by request index.
pub async fn post(
    service: Arc<Service>,
    workload: Arc<Workload>,
    units: Vec<Vec<usize>>,
    clients: usize,
    control: Arc<Control>,
) -> Vec<Outcome> {
    let queue = Arc::new(Mutex::new(units.into_iter()));
    let outcomes = Arc::new(std::sync::Mutex::new(vec![
        Outcome::NotSent;
        workload.requests.len()
    ]));
    let http = super::http_client();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (service, workload, queue) = (service.clone(), workload.clone(), queue.clone());
            let (outcomes, control, http) = (outcomes.clone(), control.clone(), http.clone());
            tokio::spawn(async move {
                while !control.stop.load(Ordering::SeqCst) {
                    let Some(unit) = queue.lock().await.next() else {
                        return;
                    };
                    for index in unit {
                        let outcome = post_one(&service, &http, &workload, index).await;
                        let acknowledged = outcome.acknowledged();
                        if acknowledged {
                            control.acknowledged.fetch_add(1, Ordering::SeqCst);
                        }
                        outcomes.lock().unwrap()[index] = outcome;
                        if !acknowledged {
                            break;
                        }
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a client panicked");
    }
    Arc::try_unwrap(outcomes).unwrap().into_inner().unwrap()
}

async fn post_one(
    service: &Service,
    http: &reqwest::Client,
    workload: &Workload,
    index: usize,
) -> Outcome {
    let request = &workload.requests[index];
    let sent = Instant::now();
    let answer = service
        .post(
            http,
            request.path,
            request.content_type,
            request.body.clone(),
        )
        .await;
    match answer {
        Ok(answer) => Outcome::Answered { answer, sent },
        Err(err) => Outcome::Lost {
            error: format!("{err:#}"),
            sent,
        },
    }
}
