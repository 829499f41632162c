//! Small command-line parser shared by the two programs: short options,
//! bundled flags (`-fq`), values attached or separate (`-b4096`, `-b 4096`),
//! `--help`, `--` and one positional argument.

/// One parsed item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Arg {
    /// `-x` (flag) or `-x value`.
    Opt(char, Option<String>),
    /// `--help`.
    Help,
    /// A positional argument.
    Pos(String),
}

/// Parses `args` (without the program name). `with_value` lists the
/// options that take a value.
pub fn parse(args: &[String], with_value: &str) -> Result<Vec<Arg>, String> {
    let mut out = Vec::new();
    let mut it = args.iter();
    let mut only_pos = false;
    while let Some(a) = it.next() {
        if only_pos || !a.starts_with('-') || a == "-" {
            out.push(Arg::Pos(a.clone()));
            continue;
        }
        if a == "--" {
            only_pos = true;
            continue;
        }
        if a == "--help" {
            out.push(Arg::Help);
            continue;
        }
        if a.starts_with("--") {
            return Err(format!("unknown option '{a}'"));
        }
        for (i, c) in a[1..].char_indices() {
            if with_value.contains(c) {
                let rest = &a[1 + i + c.len_utf8()..];
                let v = if !rest.is_empty() {
                    rest.to_string()
                } else {
                    it.next()
                        .cloned()
                        .ok_or_else(|| format!("option '-{c}' needs a value"))?
                };
                out.push(Arg::Opt(c, Some(v)));
                break;
            }
            out.push(Arg::Opt(c, None));
        }
    }
    Ok(out)
}
