//! Line charts as PNG files, for the scaling curve in the report.
//!
//! Drawn with plotters' bitmap backend and its pure-Rust text renderer
//! (ab_glyph), so nothing beyond the crate is linked; the one thing taken
//! from the system is a font file, DejaVu Sans, read at run time rather than
//! compiled in (it is 700 KB, and a documented Debian location).

use std::ops::Range;
use std::path::Path;
use std::sync::OnceLock;

use anyhow::{Context, Result, anyhow};
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;
use plotters::style::register_font;

/// Where Debian's `fonts-dejavu-core` puts the font.
const FONT_FILE: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
const FONT_PACKAGE: &str = "fonts-dejavu-core";

/// The family name text styles ask for; registered as DejaVu Sans.
const FAMILY: &str = "sans-serif";

pub const WIDTH: u32 = 1000;
pub const HEIGHT: u32 = 640;

/// One line of the chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
}

/// What to draw: every series as a line with markers, in the order given,
/// coloured in turn.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    pub log_x: bool,
    pub log_y: bool,
}

/// Distinct on white and for the common colour-vision deficiencies; more
/// series than colours reuse them in turn.
const COLOURS: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(230, 159, 0),
    RGBColor(120, 120, 120),
    RGBColor(0, 0, 0),
];

/// Writes `chart` to `path` as a `WIDTH`×`HEIGHT` PNG.
///
/// Points that a log axis cannot place (zero, negative) and non-finite ones
/// are left out. A series left with no points still gets its legend entry,
/// marked "no points", so a reader sees it was measured and not forgotten;
/// a chart with nothing to plot at all still renders, with empty axes,
/// because the report it belongs to is worth writing either way.
pub fn line_chart(path: &Path, chart: &Chart) -> Result<()> {
    register_dejavu()?;
    let series: Vec<Series> = chart.series.iter().map(|s| plottable(s, chart)).collect();
    let points = || series.iter().flat_map(|s| &s.points);
    let x = axis_range(points().map(|p| p.0), chart.log_x);
    let y = axis_range(points().map(|p| p.1), chart.log_y);
    let root = BitMapBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    match (chart.log_x, chart.log_y) {
        (false, false) => draw(&root, chart, &series, x, y),
        (true, false) => draw(&root, chart, &series, x.log_scale(), y),
        (false, true) => draw(&root, chart, &series, x, y.log_scale()),
        (true, true) => draw(&root, chart, &series, x.log_scale(), y.log_scale()),
    }?;
    root.present()
        .map_err(plot_error)
        .with_context(|| format!("writing the chart {}", path.display()))
}

/// Registers DejaVu Sans once per process; later calls return the first
/// outcome. The bytes are leaked because plotters keeps fonts for the
/// process's lifetime (`&'static`); that happens once.
fn register_dejavu() -> Result<()> {
    static REGISTERED: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            let bytes = std::fs::read(FONT_FILE).map_err(|e| {
                format!("cannot read the chart font {FONT_FILE} ({e}); install the Debian package {FONT_PACKAGE}")
            })?;
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            register_font(FAMILY, FontStyle::Normal, bytes)
                .map_err(|_| format!("{FONT_FILE} is not a font plotters can read"))
        })
        .clone()
        .map_err(|message| anyhow!(message))
}

/// `series` without the points its axes cannot show, sorted by x so the
/// line runs left to right.
fn plottable(series: &Series, chart: &Chart) -> Series {
    let shown = |v: f64, log: bool| v.is_finite() && (!log || v > 0.0);
    let mut points: Vec<(f64, f64)> = series
        .points
        .iter()
        .copied()
        .filter(|&(x, y)| shown(x, chart.log_x) && shown(y, chart.log_y))
        .collect();
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    let label = match points.is_empty() {
        true => format!("{} (no points)", series.label),
        false => series.label.clone(),
    };
    Series { label, points }
}

/// The span of `values` with a margin, so that end points are not drawn
/// on the frame: a fifth of a decade on a log axis, 5% on a linear one. A
/// single value gets a span around it; no values, a unit span.
fn axis_range(values: impl Iterator<Item = f64>, log: bool) -> Range<f64> {
    let (low, high) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if low > high {
        return if log { 1.0..10.0 } else { 0.0..1.0 };
    }
    if log {
        let (low, high) = if low == high {
            (low / 10.0, high * 10.0)
        } else {
            (low, high)
        };
        let pad = 10f64.powf(0.2);
        return low / pad..high * pad;
    }
    let pad = if low == high {
        low.abs().max(1.0)
    } else {
        (high - low) * 0.05
    };
    low - pad..high + pad
}

/// Draws frame, grid, labels, lines and legend in any pair of axis kinds.
fn draw<X, Y>(
    root: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    chart: &Chart,
    series: &[Series],
    x: X,
    y: Y,
) -> Result<()>
where
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let mut context = ChartBuilder::on(root)
        .caption(&chart.title, (FAMILY, 24))
        .margin(16)
        .x_label_area_size(56)
        .y_label_area_size(80)
        .build_cartesian_2d(x, y)
        .map_err(plot_error)?;
    context
        .configure_mesh()
        .x_desc(&chart.x_label)
        .y_desc(&chart.y_label)
        .axis_desc_style((FAMILY, 18))
        .label_style((FAMILY, 14))
        .x_label_formatter(&tick_label)
        .y_label_formatter(&tick_label)
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(plot_error)?;
    for (index, line) in series.iter().enumerate() {
        let style = COLOURS[index % COLOURS.len()].filled().stroke_width(2);
        context
            .draw_series(LineSeries::new(line.points.iter().copied(), style).point_size(4))
            .map_err(plot_error)?
            .label(line.label.as_str())
            .legend(move |(x, y)| {
                EmptyElement::at((x, y))
                    + PathElement::new(vec![(0, 0), (24, 0)], style)
                    + Circle::new((12, 0), 4, style)
            });
    }
    if series.is_empty() {
        return Ok(());
    }
    context
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(160, 160, 160))
        .label_font((FAMILY, 15))
        .legend_area_size(32)
        .draw()
        .map_err(plot_error)
}

/// Tick labels short enough for any axis: `0.5`, `20`, `3k`, `1.5M`.
fn tick_label(value: &f64) -> String {
    let v = *value;
    let (scaled, suffix) = match v.abs() {
        a if a >= 1e9 => (v / 1e9, "G"),
        a if a >= 1e6 => (v / 1e6, "M"),
        a if a >= 1e3 => (v / 1e3, "k"),
        _ => (v, ""),
    };
    let text = format!("{scaled:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    let text = if text == "-0" { "0" } else { text };
    format!("{text}{suffix}")
}

/// plotters' errors borrow the backend's error type; the report only needs
/// the message.
fn plot_error(error: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("drawing the chart: {error}")
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use anyhow::bail;

    use super::*;

    /// Reads the width and height of a PNG from its header (its signature,
    /// then the `IHDR` chunk: length, type, width, height), rejecting anything
    /// else.
    fn png_size(bytes: &[u8]) -> Result<(u32, u32)> {
        const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];
        if bytes.len() < 24 || bytes[..8] != SIGNATURE {
            bail!("not a PNG");
        }
        if &bytes[12..16] != b"IHDR" {
            bail!("the PNG does not start with IHDR");
        }
        let word = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
        Ok((word(16), word(20)))
    }

    /// A directory of its own, removed when the test ends.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir().join(format!(
                "headwater-bench-chart-{name}-{}",
                std::process::id()
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            if std::env::var_os("KEEP_CHARTS").is_none() {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    fn scaling() -> Chart {
        let edges = [1e3, 1e4, 1e5, 1e6];
        let line = |label: &str, ms: [f64; 4]| Series {
            label: label.to_owned(),
            points: edges.iter().copied().zip(ms).collect(),
        };
        Chart {
            title: "Lineage latency for a fixed-size answer (p50)".to_owned(),
            x_label: "edges stored".to_owned(),
            y_label: "milliseconds".to_owned(),
            series: vec![
                line("Headwater (sqlite)", [1.2, 1.4, 1.9, 2.6]),
                line("recursive SQL (sqlite)", [0.4, 0.5, 0.9, 1.7]),
                // Out of order, with points a log axis cannot show.
                Series {
                    label: "in-memory walk".to_owned(),
                    points: vec![(1e5, 0.08), (1e3, 0.05), (0.0, 1.0), (1e4, f64::NAN)],
                },
            ],
            log_x: true,
            log_y: true,
        }
    }

    fn rendered(scratch: &Scratch, name: &str, chart: &Chart) -> Vec<u8> {
        let path = scratch.0.join(name);
        line_chart(&path, chart).unwrap();
        std::fs::read(path).unwrap()
    }

    #[test]
    fn writes_a_png_of_the_stated_size() {
        let scratch = Scratch::new("size");
        let png = rendered(&scratch, "scaling.png", &scaling());
        assert_eq!(png_size(&png).unwrap(), (WIDTH, HEIGHT));
        let mut linear = scaling();
        (linear.log_x, linear.log_y) = (false, false);
        let png = rendered(&scratch, "linear.png", &linear);
        assert_eq!(png_size(&png).unwrap(), (WIDTH, HEIGHT));
    }

    /// Nothing a log axis can place: the chart still renders, and says so
    /// in the legend rather than failing the report.
    #[test]
    fn a_series_with_nothing_to_plot_still_renders() {
        let scratch = Scratch::new("empty");
        let mut chart = scaling();
        chart.series.push(Series {
            label: "Marquez SQL".to_owned(),
            points: vec![(1e3, 0.0), (1e4, -1.0), (-5.0, 2.0)],
        });
        let png = rendered(&scratch, "one-empty.png", &chart);
        assert_eq!(png_size(&png).unwrap(), (WIDTH, HEIGHT));
        let left = plottable(&chart.series[3], &chart);
        assert_eq!(left.label, "Marquez SQL (no points)");
        assert!(left.points.is_empty());
        chart.series.truncate(3);
        chart.series.iter_mut().for_each(|s| s.points.clear());
        let png = rendered(&scratch, "all-empty.png", &chart);
        assert_eq!(png_size(&png).unwrap(), (WIDTH, HEIGHT));
        chart.series.clear();
        let png = rendered(&scratch, "no-series.png", &chart);
        assert_eq!(png_size(&png).unwrap(), (WIDTH, HEIGHT));
    }

    #[test]
    fn log_axes_drop_what_they_cannot_place_and_sort_the_rest() {
        let chart = scaling();
        let shown = plottable(&chart.series[2], &chart);
        assert_eq!(shown.points, vec![(1e3, 0.05), (1e5, 0.08)]);
        assert_eq!(shown.label, "in-memory walk");
    }

    #[test]
    fn axes_span_their_values_with_a_margin() {
        let log = axis_range([10.0, 1000.0].into_iter(), true);
        assert!(log.start < 10.0 && log.start > 5.0, "{log:?}");
        assert!(log.end > 1000.0 && log.end < 2000.0, "{log:?}");
        assert_eq!(axis_range([2.0, 12.0].into_iter(), false), 1.5..12.5);
        assert_eq!(axis_range(std::iter::empty(), true), 1.0..10.0);
        let single = axis_range([5.0].into_iter(), true);
        assert!(single.start < 5.0 && single.end > 5.0);
    }

    #[test]
    fn tick_labels_are_short() {
        assert_eq!(tick_label(&0.5), "0.5");
        assert_eq!(tick_label(&20.0), "20");
        assert_eq!(tick_label(&3000.0), "3k");
        assert_eq!(tick_label(&1_500_000.0), "1.5M");
        assert_eq!(tick_label(&0.001), "0.001");
        assert_eq!(tick_label(&-0.0), "0");
    }

    #[test]
    fn png_size_rejects_other_files() {
        assert!(png_size(b"GIF89a and some more bytes to be long").is_err());
    }
}
