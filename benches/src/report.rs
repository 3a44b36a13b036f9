//! Results of a scenario and their Markdown tables, with ratios to the best peer and to
//! the limit.
//!
//! Every figure that gets ratios is "lower is better" (time, bytes, allocations, share
//! of memory held), so the best peer is the peer with the smallest figure. Figures where
//! higher is better (the ratio scenario's requests per second and hit ratios) are
//! printed without ratios ([`Ratios::None`]).

use crate::Role;
use std::fmt::Write as _;

/// One implementation's figures in one scenario, in the scenario's column order.
#[derive(Clone, Debug)]
pub struct Measured {
    /// The implementation's row label.
    pub name: &'static str,
    /// Ours, a peer, or the limit.
    pub role: Role,
    /// One figure per column; `None` where the implementation cannot take part.
    pub figures: Vec<Option<f64>>,
}

impl Measured {
    /// The figure in `column`, if measured.
    pub fn figure(&self, column: usize) -> Option<f64> {
        self.figures.get(column).copied().flatten()
    }
}

/// How a column's figures are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Nanoseconds.
    Nanos,
    /// Bytes.
    Bytes,
    /// A plain count, e.g. allocations per call.
    Count,
    /// A percentage.
    Percent,
}

/// Where a column's ratios to the best peer and to the limit go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ratios {
    /// No ratios (figures where a ratio means nothing, such as a count of zero).
    None,
    /// Two more columns: "× best peer" and "× limit".
    Columns,
    /// In the cell itself, `"21.3 (0.80×, 1.52×)"`: for wide tables.
    Inline,
}

/// A column of a results table.
#[derive(Clone, Debug)]
pub struct Column {
    /// Its header.
    pub header: String,
    /// How to write its figures.
    pub unit: Unit,
    /// Where its ratios go.
    pub ratios: Ratios,
}

impl Column {
    /// A column with a header, a unit and its ratios.
    pub fn new(header: impl Into<String>, unit: Unit, ratios: Ratios) -> Self {
        Column {
            header: header.into(),
            unit,
            ratios,
        }
    }
}

/// All implementations' figures in one scenario.
#[derive(Clone, Debug)]
pub struct Results {
    /// The table's title.
    pub title: String,
    /// What the figures mean and how they were taken.
    pub notes: Vec<String>,
    /// The columns, in the order of [`Measured::figures`].
    pub columns: Vec<Column>,
    /// One row per implementation.
    pub rows: Vec<Measured>,
}

impl Results {
    /// An empty table.
    pub fn new(title: impl Into<String>, columns: Vec<Column>) -> Self {
        Results {
            title: title.into(),
            notes: Vec::new(),
            columns,
            rows: Vec::new(),
        }
    }

    /// The smallest figure of a peer in `column`.
    pub fn best_peer(&self, column: usize) -> Option<f64> {
        self.rows
            .iter()
            .filter(|row| row.role == Role::Peer)
            .filter_map(|row| row.figure(column))
            .min_by(f64::total_cmp)
    }

    /// The figure in `column` of the first row with `role`.
    pub fn of_role(&self, role: Role, column: usize) -> Option<f64> {
        self.rows
            .iter()
            .find(|row| row.role == role)
            .and_then(|row| row.figure(column))
    }

    /// The figure in `column` of the row named `name`.
    pub fn of(&self, name: &str, column: usize) -> Option<f64> {
        self.rows
            .iter()
            .find(|row| row.name == name)
            .and_then(|row| row.figure(column))
    }

    /// The table in Markdown: a heading, the notes, then one row per implementation.
    ///
    /// # Examples
    ///
    /// ```
    /// use cache_bench::report::{Column, Measured, Ratios, Results, Unit};
    /// use cache_bench::Role;
    ///
    /// let column = Column::new("ns/call", Unit::Nanos, Ratios::Columns);
    /// let mut results = Results::new("Hit", vec![column]);
    /// for (name, role, ns) in [("ours", Role::Ours, 10.0), ("peer", Role::Peer, 40.0), ("limit", Role::Limit, 8.0)] {
    ///     results.rows.push(Measured { name, role, figures: vec![Some(ns)] });
    /// }
    /// let table = results.to_markdown();
    /// assert!(table.contains("| ours | 10.0 | 0.25× | 1.25× |"), "{table}");
    /// ```
    pub fn to_markdown(&self) -> String {
        let mut out = format!("### {}\n\n", self.title);
        for note in &self.notes {
            let _ = writeln!(out, "{note}");
        }
        if !self.notes.is_empty() {
            out.push('\n');
        }
        let mut header = vec!["implementation".to_owned()];
        for column in &self.columns {
            match column.ratios {
                Ratios::Inline => header.push(format!("{} (× best peer, × limit)", column.header)),
                Ratios::None | Ratios::Columns => header.push(column.header.clone()),
            }
            if column.ratios == Ratios::Columns {
                header.push("× best peer".to_owned());
                header.push("× limit".to_owned());
            }
        }
        push_row(&mut out, &header);
        let mut rule = vec![":--".to_owned()];
        rule.extend((1..header.len()).map(|_| "--:".to_owned()));
        push_row(&mut out, &rule);
        for row in &self.rows {
            let mut cells = vec![row.name.to_owned()];
            for (index, column) in self.columns.iter().enumerate() {
                let figure = row.figures[index];
                let written =
                    figure.map_or_else(|| "n/a".to_owned(), |f| format_figure(f, column.unit));
                let best = format_ratio(figure, self.best_peer(index));
                let limit = format_ratio(figure, self.of_role(Role::Limit, index));
                match column.ratios {
                    Ratios::None => cells.push(written),
                    Ratios::Columns => cells.extend([written, best, limit]),
                    Ratios::Inline if figure.is_some() => {
                        cells.push(format!("{written} ({best}, {limit})"));
                    }
                    Ratios::Inline => cells.push(written),
                }
            }
            push_row(&mut out, &cells);
        }
        out
    }
}

fn push_row(out: &mut String, cells: &[String]) {
    let _ = writeln!(out, "| {} |", cells.join(" | "));
}

/// A figure written in its unit, with a precision that suits its size.
///
/// # Examples
///
/// ```
/// use cache_bench::report::{format_figure, Unit};
///
/// assert_eq!(format_figure(13.25, Unit::Nanos), "13.2");
/// assert_eq!(format_figure(1234.0, Unit::Nanos), "1234");
/// assert_eq!(format_figure(3_400_000.0, Unit::Bytes), "3.24 MiB");
/// assert_eq!(format_figure(0.5, Unit::Percent), "0.50%");
/// ```
pub fn format_figure(figure: f64, unit: Unit) -> String {
    match unit {
        Unit::Bytes if figure.abs() >= 1024.0 * 1024.0 => {
            format!("{:.2} MiB", figure / (1024.0 * 1024.0))
        }
        Unit::Bytes if figure.abs() >= 10.0 * 1024.0 => format!("{:.1} KiB", figure / 1024.0),
        Unit::Percent => format!("{}%", format_number(figure)),
        _ => format_number(figure),
    }
}

fn format_number(figure: f64) -> String {
    if figure.abs() >= 1000.0 {
        format!("{figure:.0}")
    } else if figure.abs() >= 1.0 || figure == 0.0 {
        format!("{figure:.1}")
    } else {
        format!("{figure:.2}")
    }
}

/// `figure / base` as `"0.42×"`, or `"–"` when either is missing or the base is 0.
pub fn format_ratio(figure: Option<f64>, base: Option<f64>) -> String {
    match (figure, base) {
        (Some(figure), Some(base)) if base > 0.0 => format!("{:.2}×", figure / base),
        _ => "–".to_owned(),
    }
}
