//! Small command-line parser shared by the two programs: short options,
//! bundled flags (`-fq`), values attached or separate (`-b4096`, `-b 4096`),
//! `--help`, long spellings of short options (`--backup 8191`,
//! `--backup=8191`), `--` and one positional argument.

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
    parse_long(args, with_value, &[])
}

/// [`parse`] with long options: each `(name, c)` of `long` makes `--name`
/// another spelling of `-c` (`--name VALUE` or `--name=VALUE` when `c`
/// takes a value).
pub fn parse_long(
    args: &[String],
    with_value: &str,
    long: &[(&str, char)],
) -> Result<Vec<Arg>, String> {
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
        if let Some(rest) = a.strip_prefix("--") {
            let (name, inline) = match rest.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (rest, None),
            };
            let Some(&(_, c)) = long.iter().find(|(n, _)| *n == name) else {
                return Err(format!("unknown option '{a}'"));
            };
            if with_value.contains(c) {
                let v = match inline {
                    Some(v) => v,
                    None => it
                        .next()
                        .cloned()
                        .ok_or_else(|| format!("option '--{name}' needs a value"))?,
                };
                out.push(Arg::Opt(c, Some(v)));
            } else if inline.is_some() {
                return Err(format!("option '--{name}' takes no value"));
            } else {
                out.push(Arg::Opt(c, None));
            }
            continue;
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
