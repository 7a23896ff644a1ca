//! The person at the terminal: the host's prompts on stderr (wrapped to the
//! terminal's width), answers read from stdin, or taken from `--answer`s given in
//! advance.

use crate::terminal;
use miniapp_host::consent::{Answer, AnswerFuture, LOCAL_USER, Prompt, ScriptedUser, User, answer_word};
use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;

/// A person at a terminal: prompts on stderr, answers read from stdin. When stdin is
/// not a terminal, falls back to `fallback` (scripted answers, then nobody).
pub struct TerminalUser {
    fallback: Arc<ScriptedUser>,
}

impl TerminalUser {
    /// A terminal user with `answers` to use first (from `--answer`).
    pub fn new(answers: Vec<Answer>) -> TerminalUser {
        TerminalUser { fallback: ScriptedUser::new(answers) }
    }
}

impl TerminalUser {
    /// The answers given in advance that no prompt used, in order.
    pub fn unused_answers(&self) -> Vec<Answer> {
        self.fallback.remaining()
    }

    /// Takes answers given in advance until one fits `prompt`; each that does not
    /// is reported and skipped, as a person's would be re-asked.
    async fn scripted(&self, prompt: &Prompt) -> Answer {
        loop {
            let answer = self.fallback.ask(prompt).await;
            if prompt.accepts(answer) {
                return answer;
            }
            eprintln!("[host] the answer `{}` does not fit; expected {}", answer_word(answer), prompt.expected());
        }
    }
}

impl User for TerminalUser {
    fn id(&self) -> &str {
        LOCAL_USER
    }

    fn ask<'a>(&'a self, prompt: &'a Prompt) -> AnswerFuture<'a> {
        let scripted = !self.fallback.remaining().is_empty();
        if scripted || !std::io::stdin().is_terminal() {
            return Box::pin(async move {
                let answer = self.scripted(prompt).await;
                let mut lines = prompt.lines();
                if let Some(last) = lines.last_mut() {
                    last.push_str(&format!(" → {}", describe(answer)));
                }
                for line in lines {
                    eprintln!("[host] {line}");
                }
                answer
            });
        }
        let prompt = prompt.clone();
        Box::pin(
            async move { tokio::task::spawn_blocking(move || ask_terminal(&prompt)).await.unwrap_or(Answer::NoAnswer) },
        )
    }
}

fn describe(answer: Answer) -> String {
    match answer {
        Answer::Yes => "yes".into(),
        Answer::No => "no".into(),
        Answer::Pick(n) => format!("picked {n}"),
        Answer::NoAnswer => "no answer (declined)".into(),
    }
}

fn ask_terminal(prompt: &Prompt) -> Answer {
    let stdin = std::io::stdin();
    let width = terminal::columns(&std::io::stderr());
    let mut lines = prompt.lines();
    let question = lines.pop().unwrap_or_default();
    for line in lines {
        for wrapped in terminal::wrap_text("[host] ", &line, width) {
            eprintln!("{wrapped}");
        }
    }
    loop {
        let ask = format!("{question} [{}] ", prompt.expected());
        let wrapped = terminal::wrap_text("[host] ", &ask, width);
        eprint!("{} ", wrapped.join("\n"));
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        match stdin.lock().read_line(&mut line) {
            // End of input declines; nothing else is taken for a refusal.
            Ok(0) | Err(_) => return Answer::NoAnswer,
            Ok(_) => match Answer::parse(&line) {
                Some(answer) if prompt.accepts(answer) => return answer,
                _ => eprintln!("[host] please answer {}", prompt.expected()),
            },
        }
    }
}
