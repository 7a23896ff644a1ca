//! The user of a served session: each prompt the host shows is streamed with a
//! number and waits until whoever drives the session answers it through the API
//! (a browser's dialog, a test, a platform's own UI), until the prompt times out,
//! or until the session closes — the last two count as no answer, a refusal.
//! The waiting is not charged to the program's time budget (the host's rule for
//! every [`User`]).

use crate::failure::ServeError;
use crate::messages::{Log, Message, prompt_message};
use miniapp_host::consent::{Answer, AnswerFuture, Prompt, User, answer_word};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// The prompts of one session waiting for answers.
#[derive(Default)]
pub(crate) struct Waiting {
    next: AtomicU64,
    /// Set when the session closes: every prompt from then on goes unanswered.
    closing: AtomicBool,
    pending: Mutex<BTreeMap<u64, (Prompt, oneshot::Sender<Answer>)>>,
}

impl Waiting {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, (Prompt, oneshot::Sender<Answer>)>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Answers prompt `id` of session `session`; an answer that does not fit
    /// leaves the prompt waiting.
    pub(crate) fn answer(&self, session: &str, id: u64, answer: Answer) -> Result<(), ServeError> {
        let mut pending = self.lock();
        let Some((prompt, _)) = pending.get(&id) else {
            return Err(ServeError::UnknownPrompt { session: session.to_string(), prompt: id });
        };
        if !prompt.accepts(answer) {
            return Err(ServeError::AnswerDoesNotFit {
                answer: answer_word(answer),
                kind: prompt.kind(),
                expected: prompt.expected(),
            });
        }
        if let Some((_, reply)) = pending.remove(&id) {
            // The asking side may have timed out this very moment; then the
            // prompt already counts as unanswered.
            let _ = reply.send(answer);
        }
        Ok(())
    }

    /// The prompts waiting, oldest first.
    pub(crate) fn pending(&self) -> Vec<(u64, Prompt)> {
        self.lock().iter().map(|(id, (prompt, _))| (*id, prompt.clone())).collect()
    }

    /// Declines what waits, and every prompt from now on (the session is closing).
    pub(crate) fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
        self.decline_all();
    }

    /// Declines every waiting prompt.
    pub(crate) fn decline_all(&self) {
        for (_, (_, reply)) in std::mem::take(&mut *self.lock()) {
            let _ = reply.send(Answer::NoAnswer);
        }
    }
}

/// The [`User`] of one served session.
pub(crate) struct RemoteUser {
    pub id: String,
    pub log: Arc<Log>,
    pub waiting: Arc<Waiting>,
    pub timeout: Duration,
}

impl User for RemoteUser {
    fn id(&self) -> &str {
        &self.id
    }

    fn ask<'a>(&'a self, prompt: &'a Prompt) -> AnswerFuture<'a> {
        Box::pin(async move {
            if self.waiting.closing.load(Ordering::SeqCst) {
                return Answer::NoAnswer;
            }
            let id = self.waiting.next.fetch_add(1, Ordering::Relaxed) + 1;
            let (reply, answered) = oneshot::channel();
            self.waiting.lock().insert(id, (prompt.clone(), reply));
            self.log.push(prompt_message(id, prompt));
            let answer = match tokio::time::timeout(self.timeout, answered).await {
                Ok(Ok(answer)) => answer,
                // Timed out, or the session closed: nobody answered.
                _ => Answer::NoAnswer,
            };
            self.waiting.lock().remove(&id);
            self.log.push(Message::PromptAnswered { prompt: id, answer: answer_word(answer) });
            answer
        })
    }
}
