//! A small column-aligned table used by the text and Markdown renderers.

/// Horizontal alignment of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Align {
    Left,
    Right,
}

/// Rows of cells with a header and per-column alignment.
pub(crate) struct Table {
    header: Vec<String>,
    align: Vec<Align>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub(crate) fn new(header: &[&str], align: &[Align]) -> Self {
        Self {
            header: header.iter().map(|s| (*s).to_owned()).collect(),
            align: align.to_vec(),
            rows: Vec::new(),
        }
    }

    pub(crate) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    fn widths(&self) -> Vec<usize> {
        let mut w: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                if i < w.len() {
                    w[i] = w[i].max(cell.chars().count());
                }
            }
        }
        w
    }

    fn pad(cell: &str, width: usize, align: Align) -> String {
        let n = cell.chars().count();
        let fill = " ".repeat(width.saturating_sub(n));
        match align {
            Align::Left => format!("{cell}{fill}"),
            Align::Right => format!("{fill}{cell}"),
        }
    }

    /// Plain text, each line prefixed with `indent`.
    pub(crate) fn text(&self, indent: &str) -> String {
        let w = self.widths();
        let mut out = String::new();
        let line = |cells: &[String], out: &mut String| {
            let parts: Vec<String> = cells
                .iter()
                .enumerate()
                .map(|(i, c)| Self::pad(c, w[i], self.align[i]))
                .collect();
            out.push_str(indent);
            out.push_str(parts.join("  ").trim_end());
            out.push('\n');
        };
        line(&self.header, &mut out);
        for row in &self.rows {
            line(row, &mut out);
        }
        out
    }

    /// A GitHub-flavoured Markdown table.
    pub(crate) fn markdown(&self) -> String {
        let esc = |s: &str| s.replace('|', "\\|");
        let mut out = String::new();
        out.push_str(&format!(
            "| {} |\n",
            self.header
                .iter()
                .map(|h| esc(h))
                .collect::<Vec<_>>()
                .join(" | ")
        ));
        out.push_str(&format!(
            "|{}|\n",
            self.align
                .iter()
                .map(|a| match a {
                    Align::Left => " :--- ",
                    Align::Right => " ---: ",
                })
                .collect::<Vec<_>>()
                .join("|")
        ));
        for row in &self.rows {
            out.push_str(&format!(
                "| {} |\n",
                row.iter().map(|c| esc(c)).collect::<Vec<_>>().join(" | ")
            ));
        }
        out
    }

    /// An HTML `<table>`, every cell escaped; left-aligned columns get the `l` class.
    pub(crate) fn html(&self) -> String {
        let esc = super::escape::html;
        let class = |i: usize| match self.align.get(i) {
            Some(Align::Left) => " class=\"l\"",
            _ => "",
        };
        let mut out = String::from("<table><tr>");
        for (i, h) in self.header.iter().enumerate() {
            out.push_str(&format!("<th{}>{}</th>", class(i), esc(h)));
        }
        out.push_str("</tr>\n");
        for row in &self.rows {
            out.push_str("<tr>");
            for (i, c) in row.iter().enumerate() {
                out.push_str(&format!("<td{}>{}</td>", class(i), esc(c)));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</table>\n");
        out
    }

    /// Whether the table has no rows.
    pub(crate) fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_columns() {
        let mut t = Table::new(&["name", "value"], &[Align::Left, Align::Right]);
        t.row(vec!["a".into(), "1.0".into()]);
        t.row(vec!["longer".into(), "10.25".into()]);
        assert_eq!(
            t.text("  "),
            "  name    value\n  a         1.0\n  longer  10.25\n"
        );
        assert_eq!(
            t.markdown(),
            "| name | value |\n| :--- | ---: |\n| a | 1.0 |\n| longer | 10.25 |\n"
        );
        let mut h = Table::new(&["x", "y"], &[Align::Left, Align::Right]);
        h.row(vec!["<b>".into(), "1".into()]);
        assert_eq!(
            h.html(),
            "<table><tr><th class=\"l\">x</th><th>y</th></tr>\n\
             <tr><td class=\"l\">&lt;b&gt;</td><td>1</td></tr>\n</table>\n"
        );
    }
}
