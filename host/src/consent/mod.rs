//! The user: the person the host asks before a link leaves the program, a card is
//! shared, or (later) data or money changes hands.
//!
//! The host — never the guest — asks. [`User`] is how: a front end's prompt for
//! people (the CLI's terminal prompt, a web page's dialog), a queue of answers for
//! tests and demos ([`ScriptedUser`]), or nobody at all ([`Nobody`], which declines). Every prompt
//! says which program asks, what for, and exactly what would happen.

pub mod grants;

use miniapp_abi::lifecycle::Surface;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

// How much of a program's purpose, payment description and card title a prompt
// shows before cutting it visibly (in its lines and its fields alike).
const MAX_PURPOSE_CHARS: usize = 200;
const MAX_DESCRIPTION_CHARS: usize = 128;
const MAX_TITLE_CHARS: usize = 64;

/// What the host asks the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prompt {
    /// Open a link that needs confirmation.
    OpenLink {
        /// The asking program's name and id.
        program: String,
        /// The target in its safe display form.
        target: String,
        /// The surface it is opened from.
        surface: Surface,
    },
    /// Share personal data in `scope` with a program.
    Consent {
        /// The asking program's name and id.
        program: String,
        /// The scope asked for, as its capability names it (`phone`, `location`).
        scope: String,
        /// Why, in the program's words (from its manifest).
        purpose: String,
        /// Exactly what would be shared.
        shared: String,
    },
    /// Pick one of the user's addresses to share with a program (or refuse).
    ChooseAddress {
        /// The asking program's name and id.
        program: String,
        /// Why, in the program's words.
        purpose: String,
        /// The addresses, in order; the answer picks one by its 1-based number.
        options: Vec<String>,
    },
    /// The payment sheet: pay an amount to a payee with a method the user picks.
    Payment {
        /// The asking program's name and id.
        program: String,
        /// The payee's name from the host's records (never from the program).
        payee: String,
        /// The merchant id.
        merchant_id: String,
        /// The amount, formatted exactly (`¥19.99`).
        amount: String,
        /// What is bought.
        description: String,
        /// The methods to choose from, as the user sees them, in order; the
        /// answer picks one by number (`yes` picks the first).
        methods: Vec<String>,
        /// The same methods' stable names (`wechat_pay`, `alipay`), in the same order.
        method_ids: Vec<String>,
    },
    /// Share a card to a surface.
    Share {
        /// The asking program's name and id.
        program: String,
        /// The card's title.
        title: String,
        /// The card's target in its safe display form.
        target: String,
        /// Where it would be shared.
        surface: Surface,
    },
}

impl Prompt {
    /// The kind of question, as a stable name: `open_link`, `consent`,
    /// `choose_address`, `payment` or `share`.
    pub fn kind(&self) -> &'static str {
        match self {
            Prompt::OpenLink { .. } => "open_link",
            Prompt::Consent { .. } => "consent",
            Prompt::ChooseAddress { .. } => "choose_address",
            Prompt::Payment { .. } => "payment",
            Prompt::Share { .. } => "share",
        }
    }

    /// The question as one line of text. Every part a program supplied (its name,
    /// a purpose, a description, a title, a target) is passed through the one
    /// sanitizer, so it cannot rewrite or disguise the prompt.
    pub fn text(&self) -> String {
        self.lines().join(" ")
    }

    /// Each part of the question, sanitized and shortened as [`Prompt::lines`]
    /// shows it, for a front end that draws its own dialog (the server's
    /// DevTools): `program` and the kind's own fields (`payee`, `amount`,
    /// `methods`, `method_ids`… for the payment sheet).
    pub fn fields(&self) -> serde_json::Value {
        use crate::sanitize::{line, line_within};
        use serde_json::json;
        let lines = |items: &[String]| items.iter().map(|item| line(item)).collect::<Vec<_>>();
        match self {
            Prompt::OpenLink { program, target, surface } => {
                json!({ "program": line(program), "target": line(target), "surface": surface })
            }
            Prompt::Consent { program, scope, purpose, shared } => json!({
                "program": line(program), "scope": line(scope),
                "purpose": line_within(purpose, MAX_PURPOSE_CHARS), "shared": line(shared),
            }),
            Prompt::ChooseAddress { program, purpose, options } => json!({
                "program": line(program), "purpose": line_within(purpose, MAX_PURPOSE_CHARS), "options": lines(options),
            }),
            Prompt::Payment { program, payee, merchant_id, amount, description, methods, method_ids } => json!({
                "program": line(program), "payee": line(payee), "merchant_id": line(merchant_id), "amount": line(amount),
                "description": line_within(description, MAX_DESCRIPTION_CHARS),
                "methods": lines(methods), "method_ids": lines(method_ids),
            }),
            Prompt::Share { program, title, target, surface } => json!({
                "program": line(program), "title": line_within(title, MAX_TITLE_CHARS),
                "target": line(target), "surface": surface,
            }),
        }
    }

    /// The question as it is laid out for a person: one line for most prompts; the
    /// payment sheet as a sheet (payee, amount, what for, who asks, the numbered
    /// methods). Sanitized like [`Prompt::text`].
    pub fn lines(&self) -> Vec<String> {
        use crate::sanitize::{line, line_within};
        match self {
            Prompt::OpenLink { program, target, surface } => {
                vec![format!("{} wants to open {} (from {surface}). Open it?", line(program), line(target))]
            }
            Prompt::Consent { program, scope, purpose, shared } => vec![format!(
                "{} asks for your {scope} (\"{}\"); it would receive: {}. Allow?",
                line(program),
                line_within(purpose, MAX_PURPOSE_CHARS),
                line(shared)
            )],
            Prompt::ChooseAddress { program, purpose, options } => {
                let list: Vec<String> =
                    options.iter().enumerate().map(|(i, a)| format!("{}) {}", i + 1, line(a))).collect();
                vec![format!(
                    "{} asks for a shipping address (\"{}\"). Pick one or refuse: {}",
                    line(program),
                    line_within(purpose, MAX_PURPOSE_CHARS),
                    list.join("; ")
                )]
            }
            Prompt::Payment { program, payee, merchant_id, amount, description, methods, .. } => {
                let mut sheet = vec![
                    format!("Payment sheet — pay {amount} to {} (merchant {})", line(payee), line(merchant_id)),
                    format!("  for:        \"{}\"", line_within(description, MAX_DESCRIPTION_CHARS)),
                    format!("  asked by:   {}", line(program)),
                ];
                sheet.extend(methods.iter().enumerate().map(|(i, m)| format!("  {}) {}", i + 1, line(m))));
                sheet.push(format!("  Pay with 1–{}, or no to cancel.", methods.len()));
                sheet
            }
            Prompt::Share { program, title, target, surface } => vec![format!(
                "{} wants to share \"{}\" ({}) to {surface}. Share it?",
                line(program),
                line_within(title, MAX_TITLE_CHARS),
                line(target)
            )],
        }
    }

    /// Whether `answer` answers this prompt: the payment sheet takes a method's
    /// number or a refusal (a bare "yes" names no method); a choice of address
    /// takes an address's number or a refusal; the rest take yes or no. Not
    /// answering always fits (it declines).
    pub fn accepts(&self, answer: Answer) -> bool {
        let choices = match self {
            Prompt::Payment { methods, .. } => methods.len(),
            Prompt::ChooseAddress { options, .. } => options.len(),
            _ => return !matches!(answer, Answer::Pick(_)),
        };
        match answer {
            Answer::Pick(n) => (1..=choices).contains(&n),
            Answer::Yes => false,
            Answer::No | Answer::NoAnswer => true,
        }
    }

    /// What a person may answer, for re-asking after an answer that does not fit.
    pub fn expected(&self) -> String {
        match self {
            Prompt::Payment { methods, .. } => format!("a method's number (1–{}) or no", methods.len()),
            Prompt::ChooseAddress { options, .. } => format!("an address's number (1–{}) or no", options.len()),
            _ => "yes or no".into(),
        }
    }
}

/// What the user answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Agreed.
    Yes,
    /// Refused.
    No,
    /// Picked the option with this 1-based number.
    Pick(usize),
    /// Nobody was there to answer; treated as a refusal.
    NoAnswer,
}

impl Answer {
    /// Parses `yes`/`y`/`no`/`n` (any case), or a 1-based choice such as `2`.
    pub fn parse(text: &str) -> Option<Answer> {
        match text.trim().to_ascii_lowercase().as_str() {
            "yes" | "y" => Some(Answer::Yes),
            "no" | "n" => Some(Answer::No),
            number => number.parse::<usize>().ok().filter(|n| *n > 0).map(Answer::Pick),
        }
    }
}

/// The boxed future [`User::ask`] returns.
pub type AnswerFuture<'a> = Pin<Box<dyn Future<Output = Answer> + Send + 'a>>;

/// The person using the host.
pub trait User: Send + Sync + 'static {
    /// A stable id for this user on this host (settings and grants are kept per user).
    fn id(&self) -> &str;

    /// Asks `prompt` and waits for the answer. The waiting is not charged to the
    /// program's time budget.
    fn ask<'a>(&'a self, prompt: &'a Prompt) -> AnswerFuture<'a>;
}

/// The id of the single local user of a desktop host.
pub const LOCAL_USER: &str = "local";

/// Nobody at the device: every prompt is declined with [`Answer::NoAnswer`].
#[derive(Debug, Default)]
pub struct Nobody;

impl User for Nobody {
    fn id(&self) -> &str {
        LOCAL_USER
    }

    fn ask<'a>(&'a self, _prompt: &'a Prompt) -> AnswerFuture<'a> {
        Box::pin(std::future::ready(Answer::NoAnswer))
    }
}

/// Answers given in advance, used in order; once they run out, prompts go unanswered.
/// Every prompt is kept, so a test can check what the user was shown.
#[derive(Debug, Default)]
pub struct ScriptedUser {
    answers: Mutex<VecDeque<Answer>>,
    asked: Mutex<Vec<Prompt>>,
}

impl ScriptedUser {
    /// A user who will answer `answers`, in order.
    pub fn new(answers: impl IntoIterator<Item = Answer>) -> Arc<ScriptedUser> {
        Arc::new(ScriptedUser { answers: Mutex::new(answers.into_iter().collect()), asked: Mutex::default() })
    }

    /// The answers no prompt has used yet, in order.
    pub fn remaining(&self) -> Vec<Answer> {
        self.answers.lock().unwrap_or_else(|p| p.into_inner()).iter().copied().collect()
    }

    /// Every prompt shown so far.
    pub fn prompts(&self) -> Vec<Prompt> {
        self.asked.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl User for ScriptedUser {
    fn id(&self) -> &str {
        LOCAL_USER
    }

    fn ask<'a>(&'a self, prompt: &'a Prompt) -> AnswerFuture<'a> {
        self.asked.lock().unwrap_or_else(|p| p.into_inner()).push(prompt.clone());
        let answer = self.answers.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
        Box::pin(std::future::ready(answer.unwrap_or(Answer::NoAnswer)))
    }
}

/// How an answer is written on the command line (`--answer`).
pub fn answer_word(answer: Answer) -> String {
    match answer {
        Answer::Yes => "yes".into(),
        Answer::No => "no".into(),
        Answer::Pick(n) => n.to_string(),
        Answer::NoAnswer => "none".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn scripted_answers_run_out_into_no_answer() {
        let user = ScriptedUser::new([Answer::Yes]);
        let prompt =
            Prompt::OpenLink { program: "p".into(), target: "https://a.example/".into(), surface: Surface::Chat };
        assert_eq!(user.ask(&prompt).await, Answer::Yes);
        assert_eq!(user.ask(&prompt).await, Answer::NoAnswer);
        assert_eq!(user.prompts().len(), 2);
        assert!(prompt.text().contains("wants to open https://a.example/ (from chat)"));
    }

    #[test]
    fn answers_parse() {
        assert_eq!(Answer::parse(" Yes\n"), Some(Answer::Yes));
        assert_eq!(Answer::parse("n"), Some(Answer::No));
        assert_eq!(Answer::parse("maybe"), None);
        assert_eq!(Answer::parse("2"), Some(Answer::Pick(2)));
        assert_eq!(Answer::parse("0"), None);
    }
}
