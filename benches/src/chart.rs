//! The chart of `BENCHMARKS.md`: hit cost per implementation as the map grows, drawn
//! as SVG from the `compare` run's own figures.

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
