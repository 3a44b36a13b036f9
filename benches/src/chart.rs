//! The charts of `BENCHMARKS.md`, drawn as SVG from the `compare` run's own figures:
//! hit cost per implementation as the map grows, and the hit ratio of each bounded
//! cache per workload.

use plotters::prelude::*;
use std::error::Error;
use std::path::Path;

/// One line of the chart: an implementation's `(entries, ns per hit)` points.
#[derive(Clone, Debug)]
pub struct Series {
    /// The legend label.
    pub name: String,
    /// `(map size, nanoseconds per hit)`, in increasing size.
    pub points: Vec<(u64, f64)>,
}

/// Size of the SVG in pixels.
const SIZE: (u32, u32) = (960, 560);

/// Line colours, one per series in order (Okabe–Ito, readable by colour-blind readers).
const COLOURS: [RGBColor; 8] = [
    RGBColor(213, 94, 0),
    RGBColor(0, 114, 178),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
    RGBColor(240, 228, 66),
];

/// Draws `series` as lines on log-scaled axes (the first series, ours, thicker) into the SVG file at `path`,
/// titled `title`.
pub fn draw_hit_cost(path: &Path, title: &str, series: &[Series]) -> Result<(), Box<dyn Error>> {
    let sizes = series
        .iter()
        .flat_map(|s| s.points.iter().map(|&(n, _)| n as f64));
    let (min_n, max_n) = sizes.fold((f64::MAX, 0.0_f64), |(lo, hi), n| (lo.min(n), hi.max(n)));
    if max_n <= 0.0 {
        return Err("no points to draw".into());
    }
    let times = series
        .iter()
        .flat_map(|s| s.points.iter().map(|&(_, ns)| ns));
    let (min_ns, max_ns) = times.fold((f64::MAX, 0.0_f64), |(lo, hi), ns| (lo.min(ns), hi.max(ns)));

    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(
            (min_n * 0.8..max_n * 1.25).log_scale(),
            // Log time too: the fast maps differ by nanoseconds, the slow by hundreds.
            (min_ns * 0.8..max_ns * 1.25).log_scale(),
        )?;
    chart
        .configure_mesh()
        .light_line_style(WHITE.mix(0.0))
        .x_desc("entries in the map (log scale)")
        .y_desc("ns per get hit (1 thread; log scale)")
        .y_label_formatter(&|ns| format!("{ns:.0}"))
        .x_label_formatter(&|n| format!("{n:.0e}"))
        .draw()?;
    for (index, (line, colour)) in series.iter().zip(COLOURS.iter().cycle()).enumerate() {
        let points = line.points.iter().map(|&(n, ns)| (n as f64, ns));
        // The first series (ours) is drawn thicker.
        let width = if index == 0 { 4 } else { 2 };
        chart
            .draw_series(LineSeries::new(points.clone(), colour.stroke_width(width)))?
            .label(line.name.as_str())
            .legend(move |(x, y)| {
                PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(width))
            });
        chart.draw_series(points.map(|point| Circle::new(point, 3, colour.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// One store's hit ratios, one per row of the hit-ratio chart.
#[derive(Clone, Debug)]
pub struct HitRatios {
    /// The legend label.
    pub name: String,
    /// Hit ratio in percent, in the order of the chart's rows.
    pub percents: Vec<f64>,
}

/// Height of one row of the hit-ratio chart, in pixels.
const ROW_HEIGHT: u32 = 34;

/// Draws a dot plot into the SVG file at `path`, titled `title`: one line per workload
/// (`rows`, top to bottom), one dot per store at its hit ratio (the first store, ours,
/// larger). Dots, not lines: the rows are separate workloads, not points on a scale.
pub fn draw_hit_ratio(
    path: &Path,
    title: &str,
    rows: &[String],
    stores: &[HitRatios],
) -> Result<(), Box<dyn Error>> {
    if rows.is_empty() || stores.is_empty() {
        return Err("no hit ratios to draw".into());
    }
    let last_row = rows.len() - 1;
    // Row `i` sits at y = last_row - i, so the first row is at the top.
    let y_of = |row: usize| (last_row - row) as f64;
    let height = 140 + ROW_HEIGHT * rows.len() as u32;
    let root = SVGBackend::new(path, (SIZE.0, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(200)
        .build_cartesian_2d(0.0..100.0, -0.5..last_row as f64 + 0.5)?;
    let row_label = |y: &f64| {
        // One label per row: the mesh asks for as many labels as rows, which on this
        // range falls on the whole numbers; anything between rows stays blank.
        let nearest = y.round();
        let is_row = (y - nearest).abs() < 1e-6 && (0.0..=last_row as f64).contains(&nearest);
        if is_row {
            rows[last_row - nearest as usize].clone()
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .light_line_style(WHITE.mix(0.0))
        .y_labels(rows.len())
        .y_label_formatter(&row_label)
        .x_desc("hit ratio, % of requests (higher is better)")
        .x_label_formatter(&|percent| format!("{percent:.0}"))
        .draw()?;
    // A faint guide line per row, to read a dot across to its label.
    chart
        .draw_series((0..rows.len()).map(|row| {
            PathElement::new([(0.0, y_of(row)), (100.0, y_of(row))], BLACK.mix(0.15))
        }))?;
    for (index, (store, colour)) in stores.iter().zip(COLOURS.iter().cycle()).enumerate() {
        // Each store a little above or below the row's line, so equal ratios stay
        // visible side by side.
        let offset = (index as f64 - (stores.len() - 1) as f64 / 2.0) * 0.12;
        let radius = if index == 0 { 6 } else { 4 };
        let points = store.percents.iter().enumerate();
        let dots = points.map(|(row, &percent)| (percent, y_of(row) + offset));
        chart
            .draw_series(dots.map(|dot| Circle::new(dot, radius, colour.filled())))?
            .label(store.name.as_str())
            .legend(move |(x, y)| Circle::new((x + 10, y), radius, colour.filled()));
    }
    chart
        .configure_series_labels()
        // The top rows (the least skewed streams) have the lowest ratios: the upper
        // right is empty.
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
