//! The report's charts as inline SVG (plotters' SVG backend): no scripts, no network.

use plotters::coord::Shift;
use plotters::prelude::*;

/// Chart size, px (the page scales them to its width).
pub const CHART_WIDTH_PX: u32 = 860;
pub const CHART_HEIGHT_PX: u32 = 320;
/// Most points a line chart draws (longer series are thinned evenly).
pub const MAX_LINE_POINTS: usize = 1500;
const FONT: &str = "sans-serif";
const FONT_PX: u32 = 13;

/// A named series and its colour (the legend is the page's, beside the chart; the colours are
/// listed on the chart's `<figure>` so a reader, or a test, can find its marks).
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub color: RGBColor,
    pub values: Vec<f64>,
}

/// `#rrggbb` of a colour.
pub fn hex(c: RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

fn draw(width: u32, height: u32, f: impl FnOnce(&DrawingArea<SVGBackend, Shift>) -> Result<(), String>) -> Result<String, String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        f(&root)?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(out)
}

/// An axis tick: thousands separators, a true minus sign, and as many decimals as the axis'
/// span needs to tell its ticks apart.
fn tick(v: f64, span: f64) -> String {
    let digits = match span.abs() {
        s if s >= 50.0 => 0,
        s if s >= 5.0 => 1,
        s if s >= 0.5 => 2,
        s if s >= 0.05 => 3,
        _ => 4,
    };
    crate::output::format::number(v, digits)
}

/// The smallest 1, 2 or 5 × 10ⁿ at least `raw`.
fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * magnitude).find(|s| *s >= raw * (1.0 - 1e-9)).unwrap_or(10.0 * magnitude)
}

fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.05).max(1e-9);
    (lo - pad, hi + pad)
}

/// Stacked bars per category of x: `up` stacks above zero, `down` below (as negative).
pub fn stacked_bars(labels: &[String], up: &[Series], down: &[Series], y_label: &str) -> Result<String, String> {
    let n = labels.len().max(1);
    let top = (0..labels.len()).map(|i| up.iter().map(|s| s.values[i]).sum::<f64>()).fold(0.0, f64::max);
    let bottom = (0..labels.len()).map(|i| down.iter().map(|s| s.values[i]).sum::<f64>()).fold(0.0, f64::max);
    let pad = (top + bottom).max(1e-9) * 0.05;
    draw(CHART_WIDTH_PX, CHART_HEIGHT_PX, |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(10)
            .x_label_area_size(34)
            .y_label_area_size(64)
            .build_cartesian_2d(0f64..n as f64, -(bottom + pad)..(top + pad))
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n.min(12))
            .x_label_formatter(&|x| labels.get(*x as usize).cloned().unwrap_or_default())
            .y_label_formatter(&|y| tick(y.abs(), top + bottom))
            .y_desc(y_label)
            .label_style((FONT, FONT_PX))
            .light_line_style(TRANSPARENT)
            .draw()
            .map_err(|e| e.to_string())?;
        for (stack, sign) in [(up, 1.0), (down, -1.0)] {
            let mut base = vec![0.0; labels.len()];
            for s in stack {
                let color = s.color;
                let bars: Vec<Rectangle<(f64, f64)>> = (0..labels.len())
                    .map(|i| {
                        let (a, b) = (base[i], base[i] + s.values[i]);
                        base[i] = b;
                        Rectangle::new([(i as f64 + 0.1, sign * a), (i as f64 + 0.9, sign * b)], color.filled())
                    })
                    .collect();
                chart
                    .draw_series(bars)
                    .map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    })
}

/// Keeps at most [`MAX_LINE_POINTS`] evenly spaced points.
fn thin(values: &[f64]) -> Vec<(f64, f64)> {
    let every = values.len().div_ceil(MAX_LINE_POINTS).max(1);
    values.iter().enumerate().step_by(every).filter(|(_, v)| v.is_finite()).map(|(i, v)| (i as f64, *v)).collect()
}

/// A point marked on a line chart: a filled circle, or a ring when not `filled`.
#[derive(Debug, Clone, Copy)]
pub struct Point {
    pub x: usize,
    pub y: f64,
    pub color: RGBColor,
    pub filled: bool,
}

/// Lines over x = index (time axis labelled by `x_label`), with grey horizontal lines at `marks`.
pub fn lines(series: &[Series], x_label: &str, y_label: &str, x_tick: &dyn Fn(usize) -> String, marks: &[f64]) -> Result<String, String> {
    lines_with_points(series, x_label, y_label, x_tick, marks, &[])
}

/// [`lines`] with `points` marked over them (events on the time axis).
pub fn lines_with_points(series: &[Series], x_label: &str, y_label: &str, x_tick: &dyn Fn(usize) -> String, marks: &[f64], points: &[Point]) -> Result<String, String> {
    let n = series.iter().map(|s| s.values.len()).max().unwrap_or(1).max(2);
    let (lo, hi) = range(series.iter().flat_map(|s| s.values.iter().copied()).chain(marks.iter().copied()));
    draw(CHART_WIDTH_PX, CHART_HEIGHT_PX, |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(10)
            .x_label_area_size(34)
            .y_label_area_size(64)
            .build_cartesian_2d(0f64..(n - 1) as f64, lo..hi)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_labels(8)
            .x_label_formatter(&|x| x_tick(x.round() as usize))
            .x_desc(x_label)
            .y_desc(y_label)
            .y_label_formatter(&|y| tick(*y, hi - lo))
            .label_style((FONT, FONT_PX))
            .light_line_style(TRANSPARENT)
            .draw()
            .map_err(|e| e.to_string())?;
        for y in marks {
            let grey = RGBColor(120, 120, 120);
            chart
                .draw_series(LineSeries::new([(0.0, *y), ((n - 1) as f64, *y)], grey.stroke_width(1)))
                .map_err(|e| e.to_string())?;
        }
        for s in series {
            let color = s.color;
            chart
                .draw_series(LineSeries::new(thin(&s.values), color.stroke_width(2)))
                .map_err(|e| e.to_string())?;
        }
        for p in points.iter().filter(|p| p.y.is_finite()) {
            let style = if p.filled { p.color.filled() } else { p.color.stroke_width(2) };
            chart.draw_series([Circle::new((p.x as f64, p.y), 5, style)]).map_err(|e| e.to_string())?;
        }
        Ok(())
    })
}

/// A histogram of values, bars coloured by the sign of their bin's centre.
pub fn histogram(values: &[f64], bins: usize, gain: RGBColor, loss: RGBColor, x_label: &str) -> Result<String, String> {
    let (lo, hi) = range(values.iter().copied().chain([0.0]));
    // Bins of a round width with an edge at zero, so no bin straddles zero and the axis has
    // ticks on both sides of it.
    let width = nice_step((hi - lo) / bins as f64);
    let (lo, hi) = ((lo / width).floor() * width, (hi / width).ceil() * width);
    let bins = (((hi - lo) / width).round() as usize).max(1);
    let mut counts = vec![0u32; bins];
    for v in values {
        counts[(((v - lo) / width) as usize).min(bins - 1)] += 1;
    }
    let most = counts.iter().copied().max().unwrap_or(1).max(1);
    draw(CHART_WIDTH_PX, CHART_HEIGHT_PX, |root| {
        let mut chart = ChartBuilder::on(root).margin(10).x_label_area_size(34).y_label_area_size(64).build_cartesian_2d(lo..hi, 0u32..most + 1).map_err(|e| e.to_string())?;
        chart.configure_mesh().disable_x_mesh().x_labels(10).x_label_formatter(&|x| tick(*x, hi - lo)).x_desc(x_label).y_desc("households").label_style((FONT, FONT_PX)).light_line_style(TRANSPARENT).draw().map_err(|e| e.to_string())?;
        for (color, wanted) in [(gain, true), (loss, false)] {
            let bars: Vec<Rectangle<(f64, u32)>> = counts
                .iter()
                .enumerate()
                .filter(|(i, c)| **c > 0 && (lo + (*i as f64 + 0.5) * width >= 0.0) == wanted)
                .map(|(i, c)| Rectangle::new([(lo + i as f64 * width, 0), (lo + (i as f64 + 1.0) * width, *c)], color.filled()))
                .collect();
            chart
                .draw_series(bars)
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    })
}

/// Grouped bars: one group per category, one bar per series; `values`, when given, are written
/// on the first series' bars (one per category).
pub fn grouped_bars(categories: &[String], series: &[Series], y_label: &str, values: Option<&[String]>) -> Result<String, String> {
    let n = categories.len().max(1);
    let (lo, hi) = range(series.iter().flat_map(|s| s.values.iter().copied()).chain([0.0]));
    // Room above the tallest bar (and below the lowest) for its label.
    let (lo, hi) = if values.is_some() { (if lo < 0.0 { lo - 0.08 * (hi - lo) } else { lo }, hi + 0.08 * (hi - lo)) } else { (lo, hi) };
    let k = series.len().max(1) as f64;
    draw(CHART_WIDTH_PX, CHART_HEIGHT_PX, |root| {
        let mut chart = ChartBuilder::on(root).margin(10).x_label_area_size(40).y_label_area_size(64).build_cartesian_2d(0f64..n as f64, lo.min(0.0)..hi).map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n * 2 + 1)
            .x_label_formatter(&|x| {
                let i = *x - 0.5;
                if (i - i.round()).abs() < 1e-6 { categories.get(i.round() as usize).cloned().unwrap_or_default() } else { String::new() }
            })
            .y_desc(y_label)
            .y_label_formatter(&|y| tick(*y, hi - lo.min(0.0)))
            .label_style((FONT, FONT_PX))
            .light_line_style(TRANSPARENT)
            .draw()
            .map_err(|e| e.to_string())?;
        for (j, s) in series.iter().enumerate() {
            let color = s.color;
            let bars: Vec<Rectangle<(f64, f64)>> = s
                .values
                .iter()
                .enumerate()
                .filter(|(_, v)| v.is_finite())
                .map(|(i, v)| {
                    let x0 = i as f64 + 0.1 + 0.8 * j as f64 / k;
                    Rectangle::new([(x0, 0.0), (x0 + 0.8 / k, *v)], color.filled())
                })
                .collect();
            chart
                .draw_series(bars)
                .map_err(|e| e.to_string())?;
            if let (0, Some(texts)) = (j, values) {
                let pad = 0.02 * (hi - lo);
                let style = TextStyle::from((FONT, FONT_PX).into_font()).color(&BLACK).pos(plotters::style::text_anchor::Pos::new(plotters::style::text_anchor::HPos::Center, plotters::style::text_anchor::VPos::Bottom));
                let below = style.pos(plotters::style::text_anchor::Pos::new(plotters::style::text_anchor::HPos::Center, plotters::style::text_anchor::VPos::Top));
                for (i, (v, t)) in s.values.iter().zip(texts).enumerate().filter(|(_, (v, _))| v.is_finite()) {
                    let x = i as f64 + 0.1 + 0.4 / k;
                    let (y, st) = if *v >= 0.0 { (*v + pad, &style) } else { (*v - pad, &below) };
                    chart.draw_series(std::iter::once(Text::new(t.clone(), (x, y), st.clone()))).map_err(|e| e.to_string())?;
                }
            }
        }
        Ok(())
    })
}
