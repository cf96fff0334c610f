//! What can go wrong compiling or evaluating a policy.

/// A policy failure.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// Syntax/compile error with position (1-based).
    #[error("{file}:{line}:{column}: {message}")]
    Syntax {
        /// The module's file name, as given to [`crate::PolicySet::compile`].
        file: String,
        /// 1-based line.
        line: u32,
        /// 1-based column.
        column: u32,
        /// What is wrong, without the position.
        message: String,
    },
    /// Evaluation failed (runtime error, or the decision rule undefined).
    #[error("policy evaluation failed: {0}")]
    Evaluation(String),
    /// The decision has the wrong shape; the message says which field and what is expected.
    #[error("policy decision is malformed: {0}")]
    Output(String),
}

impl PolicyError {
    /// Turns a regorus parse or analysis error into [`PolicyError::Syntax`].
    ///
    /// regorus formats positioned errors as
    /// `"\n--> FILE:LINE:COL\n  |\nN | source line\n  |   ^\nerror: MESSAGE"`; errors without a
    /// position are reported at 1:1 of `fallback_file`.
    pub(crate) fn from_regorus_syntax(error: &impl std::fmt::Display, fallback_file: &str) -> Self {
        let text = format!("{error:#}");
        let mut position = None;
        let mut message = None;
        for (index, line) in text.lines().enumerate() {
            if position.is_none()
                && let Some(location) = line.trim_start().strip_prefix("--> ")
            {
                let mut parts = location.rsplitn(3, ':');
                let column = parts.next().and_then(|c| c.trim().parse::<u32>().ok());
                let line_number = parts.next().and_then(|l| l.trim().parse::<u32>().ok());
                if let (Some(column), Some(line_number), Some(file)) =
                    (column, line_number, parts.next())
                {
                    position = Some((file.to_string(), line_number, column));
                }
            } else if position.is_some()
                && message.is_none()
                && let Some(rest) = line.strip_prefix("error: ")
            {
                let tail: Vec<&str> = text.lines().skip(index + 1).collect();
                message = Some(if tail.is_empty() {
                    rest.to_string()
                } else {
                    format!("{rest}\n{}", tail.join("\n"))
                });
            }
        }
        match position {
            Some((file, line, column)) => PolicyError::Syntax {
                file,
                line: line.max(1),
                column: column.max(1),
                message: message.unwrap_or_else(|| text.trim().to_string()),
            },
            None => PolicyError::Syntax {
                file: fallback_file.to_string(),
                line: 1,
                column: 1,
                message: text.trim().to_string(),
            },
        }
    }
}
