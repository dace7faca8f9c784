//! The lesson file format and its parser.
//!
//! ~~~text
//! # a comment (only at the start of a line)
//! lesson: The title
//! about: One line saying what the lesson is about
//! cleanup: docker rm -f isolab-web      (run on reset; may repeat)
//!
//! step: A step's title
//! Paragraph text with `code` and *emphasis*. A blank line ends a paragraph.
//! ```
//! a code block, shown as is
//! ```
//! hint: a nudge, shown on `h`
//! needs: docker                         (the step is optional without it)
//! start: unshare --uts sh -c 'hostname box; exec sleep 1010'
//! do: touch /tmp/x                      (run to completion instead of start)
//! check: process where hostname = "box"
//!   and ns.uts != host.uts              (indented lines continue a field)
//! waiting: no process has the hostname `box` yet
//! ~~~
//!
//! `start:` keeps its command running in the background (a process the check
//! looks for); `do:` runs a command to its end. Both are the step's "show me".

use super::cond::{self, Check};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LessonError {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for LessonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Line 0: about the whole file (it could not be read, or was refused).
        match self.line {
            0 => write!(f, "{}", self.message),
            n => write!(f, "line {n}: {}", self.message),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Lesson {
    pub title: String,
    pub about: String,
    pub cleanup: Vec<String>,
    pub steps: Vec<Step>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActionKind {
    /// Run to completion.
    Do,
    /// Start and leave running.
    Start,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Action {
    pub kind: ActionKind,
    pub command: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Block {
    Paragraph(String),
    Code(Vec<String>),
}

#[derive(Clone, Debug)]
pub struct Step {
    pub title: String,
    pub line: usize,
    pub body: Vec<Block>,
    pub hint: Option<String>,
    pub needs: Option<String>,
    pub action: Option<Action>,
    pub check: Option<Check>,
    pub check_text: Option<String>,
    /// The line of the `check:` key (for error messages).
    pub check_line: usize,
    pub waiting: Option<String>,
}

const KEYS: &[&str] = &[
    "lesson", "about", "cleanup", "step", "hint", "needs", "start", "do", "check", "waiting",
];

/// Splits `key: value` when the key is one of the format's own.
fn directive(line: &str) -> Option<(&str, &str)> {
    let (key, value) = line.split_once(':')?;
    KEYS.contains(&key).then(|| (key, value.trim()))
}

pub fn parse(text: &str) -> Result<Lesson, Vec<LessonError>> {
    let mut errors = Vec::new();
    let mut title: Option<String> = None;
    let mut about = String::new();
    let mut cleanup = Vec::new();
    let mut steps: Vec<Step> = Vec::new();
    let mut paragraph: Vec<String> = Vec::new();
    let mut code: Option<(usize, Vec<String>)> = None;
    // The field that indented lines continue: (key, line of the key).
    let mut continuing: Option<(&'static str, usize)> = None;

    fn flush(paragraph: &mut Vec<String>, steps: &mut [Step]) {
        if paragraph.is_empty() {
            return;
        }
        let text = paragraph.join(" ");
        paragraph.clear();
        if let Some(step) = steps.last_mut() {
            step.body.push(Block::Paragraph(text));
        }
    }

    for (index, raw) in text.lines().enumerate() {
        let line_no = index + 1;
        let line = raw.trim_end();
        if let Some((_, block)) = code.as_mut() {
            if line.trim_start() == "```" {
                let (_, lines) = code.take().unwrap_or_default();
                if let Some(step) = steps.last_mut() {
                    step.body.push(Block::Code(lines));
                }
            } else {
                block.push(line.to_string());
            }
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        if let Some((key, _)) = continuing
            && line.starts_with([' ', '\t'])
            && !line.trim().is_empty()
        {
            if let Some(step) = steps.last_mut() {
                let extra = line.trim();
                let field = match key {
                    "check" => &mut step.check_text,
                    "hint" => &mut step.hint,
                    "waiting" => &mut step.waiting,
                    _ => &mut None,
                };
                if let Some(f) = field {
                    f.push(' ');
                    f.push_str(extra);
                }
            }
            continue;
        }
        continuing = None;
        if line.trim().is_empty() {
            flush(&mut paragraph, &mut steps);
            continue;
        }
        if line.trim_start() == "```" {
            flush(&mut paragraph, &mut steps);
            if steps.is_empty() {
                errors.push(LessonError {
                    line: line_no,
                    message: "a code block before the first `step:`".into(),
                });
            }
            code = Some((line_no, Vec::new()));
            continue;
        }
        let Some((key, value)) = directive(line) else {
            if steps.is_empty() {
                errors.push(LessonError {
                    line: line_no,
                    message: format!(
                        "text before the first `step:` (expected one of: {}:)",
                        KEYS.join(":, ")
                    ),
                });
            } else {
                paragraph.push(line.trim().to_string());
            }
            continue;
        };
        flush(&mut paragraph, &mut steps);
        if value.is_empty() {
            errors.push(LessonError {
                line: line_no,
                message: format!("`{key}:` needs a value on the same line"),
            });
            continue;
        }
        match key {
            "lesson" => {
                if title.is_some() || !steps.is_empty() {
                    errors.push(LessonError {
                        line: line_no,
                        message: "`lesson:` must come once, before the first step".into(),
                    });
                }
                title = Some(value.to_string());
            }
            "about" => about = value.to_string(),
            "cleanup" => cleanup.push(value.to_string()),
            "step" => steps.push(Step {
                title: value.to_string(),
                line: line_no,
                body: Vec::new(),
                hint: None,
                needs: None,
                action: None,
                check: None,
                check_text: None,
                check_line: line_no,
                waiting: None,
            }),
            _ => {
                let Some(step) = steps.last_mut() else {
                    errors.push(LessonError {
                        line: line_no,
                        message: format!("`{key}:` before the first `step:`"),
                    });
                    continue;
                };
                let twice = |what: &str| LessonError {
                    line: line_no,
                    message: format!("this step already has a `{what}:` (one per step)"),
                };
                match key {
                    "hint" if step.hint.is_some() => errors.push(twice("hint")),
                    "hint" => {
                        step.hint = Some(value.to_string());
                        continuing = Some(("hint", line_no));
                    }
                    "needs" => {
                        if value != "docker" {
                            errors.push(LessonError {
                                line: line_no,
                                message: format!("unknown need {value:?}: only `docker` is known"),
                            });
                        }
                        step.needs = Some(value.to_string());
                    }
                    "start" | "do" if step.action.is_some() => {
                        errors.push(twice("start/do"));
                    }
                    "start" | "do" => {
                        step.action = Some(Action {
                            kind: if key == "start" {
                                ActionKind::Start
                            } else {
                                ActionKind::Do
                            },
                            command: value.to_string(),
                        });
                    }
                    "check" if step.check_text.is_some() => errors.push(twice("check")),
                    "check" => {
                        step.check_text = Some(value.to_string());
                        continuing = Some(("check", line_no));
                        step.check_line = line_no;
                    }
                    "waiting" if step.waiting.is_some() => errors.push(twice("waiting")),
                    "waiting" => {
                        step.waiting = Some(value.to_string());
                        continuing = Some(("waiting", line_no));
                    }
                    _ => {}
                }
            }
        }
    }
    if let Some((line, _)) = code {
        errors.push(LessonError {
            line,
            message: "this code block is never closed with ```".into(),
        });
    }
    flush(&mut paragraph, &mut steps);

    // Parse each check now that continuation lines are joined; report the
    // line of the `check:` key.
    for step in &mut steps {
        if let Some(text) = &step.check_text {
            let line = step.check_line;
            match cond::parse(text) {
                Ok(check) => step.check = Some(check),
                Err(e) => errors.push(LessonError {
                    line,
                    message: format!("check, column {}: {} (in: {text})", e.column, e.message),
                }),
            }
        }
        if step.action.is_some() && step.check_text.is_none() {
            errors.push(LessonError {
                line: step.line,
                message: format!(
                    "step {:?} has a show-me action but no `check:` to prove it worked",
                    step.title
                ),
            });
        }
    }
    if title.is_none() {
        errors.push(LessonError {
            line: 1,
            message: "the file has no `lesson: TITLE` line".into(),
        });
    }
    if steps.is_empty() {
        errors.push(LessonError {
            line: text.lines().count().max(1),
            message: "the lesson has no `step:`".into(),
        });
    }
    if errors.is_empty() {
        Ok(Lesson {
            title: title.unwrap_or_default(),
            about,
            cleanup,
            steps,
        })
    } else {
        errors.sort_by_key(|e| e.line);
        Err(errors)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const GOOD: &str = "lesson: T\nabout: A\n\nstep: One\nSome `code` and *more*\ntext.\n\nSecond.\n```\n$ ps\n```\nhint: look\nstart: sleep 5\ncheck: process where comm = \"sleep\"\n  and cmdline = \"sleep 5\"\n\nstep: Two\nJust reading.\n";

    #[test]
    fn parses_a_lesson() {
        let l = parse(GOOD).unwrap();
        assert_eq!(l.steps.len(), 2);
        let s = &l.steps[0];
        assert_eq!(s.body.len(), 3);
        assert_eq!(
            s.body[0],
            Block::Paragraph("Some `code` and *more* text.".into())
        );
        assert_eq!(s.body[2], Block::Code(vec!["$ ps".into()]));
        assert!(s.check.is_some());
        assert!(
            s.check_text
                .as_deref()
                .unwrap_or("")
                .ends_with("\"sleep 5\"")
        );
        assert!(l.steps[1].check.is_none());
    }

    #[test]
    fn errors_have_line_numbers() {
        let bad = "lesson: T\nstep: A\ncheck: process where nope = 1\nstep: B\nstart: x\n";
        let e = parse(bad).unwrap_err();
        assert_eq!(e[0].line, 3, "{e:?}");
        assert!(e[0].message.contains("unknown field"));
        assert_eq!(e[1].line, 4, "{e:?}");
    }
}
