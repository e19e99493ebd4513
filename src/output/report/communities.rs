//! The report's section on the communities households joined by choice: each one's end state
//! and its members against the grid-only baseline, and its members, fee and treasury over time
//! (from `communities.csv`).

use super::charts::{self, Series};
use super::{escape, figure, num, Csv};
use crate::output::format;
use plotters::style::RGBColor;
use serde_json::Value;
use std::fmt::Write as _;
use std::path::Path;

/// One colour per community on the charts (Okabe and Ito); more communities than colours are in
/// the table only.
const COLOURS: [RGBColor; 7] = [RGBColor(0, 114, 178), RGBColor(213, 94, 0), RGBColor(0, 158, 115), RGBColor(204, 121, 167), RGBColor(230, 159, 0), RGBColor(86, 180, 233), RGBColor(0, 0, 0)];

/// Columns of communities.csv the report reads.
const COLUMNS_USED: [&str; 5] = ["day", "community", "members", "fee_rate", "treasury"];

/// Communities that get a section of their own (the table lists all).
const MAX_SECTIONS: usize = 24;

/// The section, or nothing for a run without communities.
pub fn section(dir: &Path, summary: &Value) -> Result<String, String> {
    let Some(list) = summary.get("communities").and_then(Value::as_array) else { return Ok(String::new()) };
    let currency = summary["currency"].as_str();
    let money = |v: &Value, key: &str| num(v, key).map_or("–".into(), |x| format::money(x, currency));
    let mut h = String::from("<h2>Communities</h2>");
    h.push_str("<p class=\"note\">Households joined these communities by choice; members trade with members under their community's rule, and its treasury pays its witnesses and services from a fee on members' sales. Members' results are those of the households whose last community it was, against the same households with the grid only.</p>");
    h.push_str("<table class=\"data\" id=\"communities-table\"><tr><th>community</th><th>rule</th><th>status</th><th>members at the end</th><th>fee at the end</th><th>treasury</th><th>fees collected</th><th>paid to witnesses</th><th>services paid</th><th>returned at default</th><th>periods missed</th><th>members' bill</th><th>their grid-only bill</th><th>savings</th><th>self-sufficiency (grid-only)</th></tr>");
    for c in list {
        let k = &c["kpis"];
        let ss = |key: &str| num(k, key).map_or("–".into(), |v| format::percent(v, 1));
        let status = match (c["status"].as_str(), c["defaulted_day"].as_str()) {
            (Some("defaulted"), Some(d)) => format!("defaulted {d}"),
            (s, _) => s.unwrap_or("?").to_string(),
        };
        let _ = write!(
            h,
            "<tr><td>{} ({})</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} of {}</td><td>{}</td><td>{}</td><td>{}</td><td>{} ({})</td></tr>",
            escape(c["name"].as_str().unwrap_or("")),
            escape(c["id"].as_str().unwrap_or("")),
            escape(c["rule"].as_str().unwrap_or("")),
            escape(&status),
            c["members_end"],
            num(c, "fee_rate").map_or("–".into(), |v| format::percent(v, 2)),
            money(c, "treasury"),
            money(c, "fees_collected"),
            money(c, "witness_paid"),
            money(c, "services_paid"),
            money(c, "default_paid"),
            c["shortfall_periods"],
            c["periods"],
            money(k, "bill"),
            money(k, "baseline_bill"),
            money(k, "savings"),
            ss("self_sufficiency"),
            ss("baseline_self_sufficiency"),
        );
    }
    h.push_str("</table>");
    let rows = Csv::read(&dir.join("communities.csv"), Some(&COLUMNS_USED))?;
    // Days of the run in order, and each community's value on each (NaN: not founded, or gone).
    let mut days: Vec<String> = Vec::new();
    for d in rows.text("day") {
        if days.last() != Some(d) && !days.contains(d) {
            days.push(d.clone());
        }
    }
    days.sort();
    let day_index = |d: &str| days.binary_search_by(|x| x.as_str().cmp(d)).ok();
    let ids: Vec<&str> = list.iter().filter_map(|c| c["id"].as_str()).take(COLOURS.len()).collect();
    let series = |col: &str, scale: f64| -> Vec<Series> {
        let values = rows.num(col);
        ids.iter()
            .zip(COLOURS)
            .map(|(id, color)| {
                let mut v = vec![f64::NAN; days.len()];
                for ((d, c), x) in rows.text("day").iter().zip(rows.text("community")).zip(&values) {
                    if c == id && let Some(i) = day_index(d) {
                        v[i] = x * scale;
                    }
                }
                Series { name: id.to_string(), color, values: v }
            })
            .collect()
    };
    let label = |i: usize| days.get(i).cloned().unwrap_or_default();
    // Referendums, marked on the fee and treasury charts at their day and community.
    let referendums = read_optional(&dir.join("referendums.csv"), &["day", "community", "proposal", "yes", "no", "abstain", "passed", "turnout", "quorum", "majority", "yes_weight", "no_weight"])?;
    let marked = |col: &str, scale: f64| -> Vec<charts::Point> {
        let Some(r) = &referendums else { return Vec::new() };
        let values = rows.num(col);
        r.text("day")
            .iter()
            .zip(r.text("community"))
            .zip(r.text("passed"))
            .filter_map(|((d, c), passed)| {
                let x = day_index(d)?;
                let k = ids.iter().position(|id| id == c)?;
                let y = rows.text("day").iter().zip(rows.text("community")).zip(&values).find(|((rd, rc), _)| *rd == d && *rc == c).map(|(_, v)| v * scale)?;
                Some(charts::Point { x, y, color: COLOURS[k], filled: passed == "true" })
            })
            .collect()
    };
    let more = if list.len() > COLOURS.len() { format!(" The first {} communities are drawn; the table lists all.", COLOURS.len()) } else { String::new() };
    for (id, title, col, scale, unit, caption) in [
        ("community-members", "Members of each community", "members", 1.0, "members".to_string(), "Members at the end of each day; a line ends when its community defaults."),
        ("community-fee", "Each community's fee on its members' sales", "fee_rate", 100.0, "% of the sale".to_string(), "The fee at the end of each day: a flexible fee rises when the treasury's runway is short or members leave, and falls when it is long, by at most 12.5% per period."),
        ("community-treasury", "Each community's treasury", "treasury", 1.0, currency.unwrap_or("currency").to_string(), "The treasury's balance at the end of each day: fees, contributions and battery sales in; witnesses, services and the battery out."),
    ] {
        let s = series(col, scale);
        let points = if col == "members" { Vec::new() } else { marked(col, scale) };
        let svg = charts::lines_with_points(&s, "day", &unit, &label, &[0.0], &points)?;
        let legend: Vec<(RGBColor, &str)> = s.iter().map(|x| (x.color, x.name.as_str())).collect();
        let marks = if points.is_empty() { "" } else { " Circles mark referendums on the community's terms: filled when passed, a ring when not (they apply from the next period)." };
        h.push_str(&figure(id, title, &svg, &legend, &format!("{caption}{marks}{more}")));
    }
    h.push_str(&competition(dir, list, referendums.as_ref())?);
    for (i, c) in list.iter().take(MAX_SECTIONS).enumerate() {
        let id = c["id"].as_str().unwrap_or("");
        let pick = |col: &str| -> Vec<f64> {
            let values = rows.num(col);
            let mut v = vec![f64::NAN; days.len()];
            for ((d, k), x) in rows.text("day").iter().zip(rows.text("community")).zip(&values) {
                if k == id && let Some(i) = day_index(d) {
                    v[i] = *x;
                }
            }
            v
        };
        h.push_str(&community_section(i, c, currency, &pick("treasury"), &label)?);
    }
    if list.len() > MAX_SECTIONS {
        let _ = write!(h, "<p class=\"note\">The first {MAX_SECTIONS} communities have a section of their own; the table above lists all {}.</p>", list.len());
    }
    Ok(h)
}

/// One community's section: its books (every inflow and outflow of its treasury, by kind), its
/// members against the grid-only baseline, its battery, and its treasury day by day.
fn community_section(i: usize, c: &Value, currency: Option<&str>, treasury: &[f64], label: &dyn Fn(usize) -> String) -> Result<String, String> {
    let money = |v: &Value, key: &str| num(v, key).map_or("–".into(), |x| format::money(x, currency));
    let id = c["id"].as_str().unwrap_or("");
    let (k, b) = (&c["kpis"], &c["battery"]);
    let mut h = String::new();
    // `community-page-`: the fixed chart ids above (`community-fee`, ...) cannot collide.
    let _ = write!(h, "<section class=\"community\" id=\"community-page-{}\"><h3>{} ({})</h3>", escape(id), escape(c["name"].as_str().unwrap_or("")), escape(id));
    let status = match (c["status"].as_str(), c["defaulted_day"].as_str()) {
        (Some("defaulted"), Some(d)) => format!("defaulted on {d}: its members became free households"),
        (s, _) => s.unwrap_or("?").to_string(),
    };
    let witnesses: Vec<&str> = c["witnesses"].as_array().map(|w| w.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    let _ = write!(
        h,
        "<p>Rule {}; {}; {} members at the end ({} joined, {} left); {} of {} periods missed; witnesses at the end: {}.</p>",
        escape(c["rule"].as_str().unwrap_or("")),
        escape(&status),
        c["members_end"],
        c["joined"],
        c["left"],
        c["shortfall_periods"],
        c["periods"],
        if witnesses.is_empty() { "none".to_string() } else { escape(&witnesses.join(", ")) },
    );
    let row = |h: &mut String, name: &str, v: String| {
        let _ = write!(h, "<tr><td>{}</td><td class=\"n\">{}</td></tr>", escape(name), escape(&v));
    };
    let _ = write!(h, "<table class=\"data\" id=\"community-page-{}-books\"><tr><th>its treasury</th><th>{}</th></tr>", escape(id), escape(currency.unwrap_or("")));
    row(&mut h, "in: founding contributions", money(c, "contributions"));
    row(&mut h, "in: fees on members' sales", money(c, "fees_collected"));
    if !b.is_null() {
        row(&mut h, "in: members paid for battery energy", money(b, "sales"));
        row(&mut h, "in: battery bought back at default", money(b, "bought_back"));
        row(&mut h, "out: battery bought", money(b, "cost"));
        row(&mut h, "out: members paid for charging the battery", money(b, "purchases"));
    }
    row(&mut h, "out: witness pay", money(c, "witness_paid"));
    row(&mut h, "out: network-fee rebates", money(c, "rebates_paid"));
    row(&mut h, "out: solidarity fund", money(c, "solidarity_paid"));
    row(&mut h, "out: returned to members at default", money(c, "default_paid"));
    row(&mut h, "treasury at the end", money(c, "treasury"));
    row(&mut h, "equity at the end (treasury and battery value)", money(c, "equity_end"));
    h.push_str("</table>");
    let ss = |key: &str| num(k, key).map_or("–".into(), |v| format::percent(v, 1));
    let _ = write!(h, "<table class=\"data\" id=\"community-page-{}-kpis\"><tr><th>its members ({} households)</th><th>with the community</th><th>grid only</th></tr>", escape(id), k["households"]);
    let _ = write!(h, "<tr><td>bill</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>", escape(&money(k, "bill")), escape(&money(k, "baseline_bill")));
    let _ = write!(h, "<tr><td>self-sufficiency</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>", escape(&ss("self_sufficiency")), escape(&ss("baseline_self_sufficiency")));
    let _ = write!(
        h,
        "<tr><td>savings (founding contributions count as paid)</td><td class=\"n\">{}</td><td></td></tr><tr><td>savings counting what they own together (equity)</td><td class=\"n\">{}</td><td></td></tr></table>",
        escape(&money(k, "savings")),
        escape(&money(k, "savings_with_equity"))
    );
    if !b.is_null() {
        let kwh = |key: &str| num(b, key).map_or("–".into(), |x| format!("{} kWh", format::number(x, 1)));
        let _ = write!(
            h,
            "<p>Its battery ({} kWh, bought for {}, {} years' life) delivered {} to members and took {} of their surplus; it holds {} at the end and is worth {}.</p>",
            num(b, "capacity_kwh").unwrap_or(0.0),
            escape(&money(b, "cost")),
            num(b, "life_years").unwrap_or(0.0),
            escape(&kwh("delivered_kwh")),
            escape(&kwh("charged_kwh")),
            escape(&kwh("soc_end_kwh")),
            escape(&money(b, "value_end")),
        );
    }
    let colour = COLOURS[i % COLOURS.len()];
    let series = [Series { name: "treasury".into(), color: colour, values: treasury.to_vec() }];
    let svg = charts::lines(&series, "day", currency.unwrap_or("currency"), label, &[0.0])?;
    let legend: Vec<(RGBColor, &str)> = series.iter().map(|x| (x.color, x.name.as_str())).collect();
    h.push_str(&figure(&format!("community-page-{id}-treasury"), &format!("{id}: treasury day by day"), &svg, &legend, "At the end of each day, from its founding to its default: fees, contributions and battery sales in; witness pay, services, the battery and its charging out."));
    h.push_str("</section>");
    Ok(h)
}

/// Reads `path` if it exists (a folder written before the file was added has none).
fn read_optional(path: &Path, columns: &[&str]) -> Result<Option<Csv>, String> {
    if path.exists() { Csv::read(path, Some(columns)).map(Some) } else { Ok(None) }
}

/// Most referendums listed one by one (the charts mark them all).
const MAX_REFERENDUM_ROWS: usize = 40;

/// The competition between communities: where households moved from and to, why, and the
/// referendums members held (nothing when nobody moved and nobody voted).
fn competition(dir: &Path, list: &[Value], referendums: Option<&Csv>) -> Result<String, String> {
    let Some(moves) = read_optional(&dir.join("switches.csv"), &["from", "to", "reason"])? else { return Ok(String::new()) };
    let held = referendums.map_or(0, |r| r.rows);
    if moves.rows == 0 && held == 0 {
        return Ok(String::new());
    }
    let ids: Vec<&str> = list.iter().filter_map(|c| c["id"].as_str()).collect();
    // Options: staying free (""), then each community.
    let options: Vec<&str> = std::iter::once("").chain(ids.iter().copied()).collect();
    let name = |o: &str| if o.is_empty() { "free (grid only)".to_string() } else { o.to_string() };
    let mut flows = vec![vec![0u64; options.len()]; options.len()];
    let mut by_reason: std::collections::BTreeMap<&str, u64> = Default::default();
    for ((from, to), reason) in moves.text("from").iter().zip(moves.text("to")).zip(moves.text("reason")) {
        *by_reason.entry(reason.as_str()).or_default() += 1;
        if reason != "choice" {
            continue;
        }
        if let (Some(i), Some(j)) = (options.iter().position(|o| o == from), options.iter().position(|o| o == to)) {
            flows[i][j] += 1;
        }
    }
    let mut h = String::from("<h3 id=\"competition\">Competition for members</h3>");
    let reasons: Vec<String> = by_reason.iter().map(|(r, n)| format!("{n} by {r}")).collect();
    let passed = referendums.map_or(0, |r| r.text("passed").iter().filter(|p| *p == "true").count());
    let _ = write!(
        h,
        "<p class=\"note\">{} moves between communities ({}); {held} referendums, {passed} passed. At each choice round a household prices its own energy of the last interval in every open community from that community's published figures and its fee, adds its preferences, and chooses by a logit with its switching cost (<code>switches.csv</code> lists every move with the gain it expected).</p>",
        moves.rows,
        if reasons.is_empty() { "none".to_string() } else { reasons.join(", ") },
    );
    if by_reason.contains_key("choice") {
        h.push_str("<p class=\"note\">Where households moved by their own choice: a row per community they left (or staying free), a column per community they joined.</p>");
        h.push_str("<table class=\"data\" id=\"competition-flows\"><tr><th>moved by choice from \\ to</th>");
        for o in &options {
            let _ = write!(h, "<th>{}</th>", escape(&name(o)));
        }
        h.push_str("<th>left</th></tr>");
        for (i, o) in options.iter().enumerate() {
            let _ = write!(h, "<tr><td>{}</td>", escape(&name(o)));
            for (j, n) in flows[i].iter().enumerate() {
                let _ = write!(h, "<td class=\"n\">{}</td>", if i == j { "–".to_string() } else { n.to_string() });
            }
            let _ = write!(h, "<td class=\"n\">{}</td></tr>", flows[i].iter().sum::<u64>());
        }
        h.push_str("<tr><td>joined</td>");
        for j in 0..options.len() {
            let _ = write!(h, "<td class=\"n\">{}</td>", flows.iter().map(|r| r[j]).sum::<u64>());
        }
        h.push_str("<td></td></tr></table>");
    }
    if let Some(r) = referendums.filter(|r| r.rows > 0) {
        h.push_str("<p class=\"note\">Referendums: each member re-priced its own bill of the period under the proposal; it voted yes when the bill fell by more than what voting costs it, no when it rose by more, and stayed away otherwise.</p>");
        h.push_str("<table class=\"data\" id=\"competition-referendums\"><tr><th>day</th><th>community</th><th>proposal</th><th>yes</th><th>no</th><th>abstained</th><th>turnout (quorum)</th><th>yes share of votes (majority)</th><th>outcome</th></tr>");
        let turnout = r.num("turnout");
        let (quorum, majority) = (r.num("quorum"), r.num("majority"));
        let (yes, no) = (r.num("yes_weight"), r.num("no_weight"));
        let share = |x: f64| format::percent(x, 1);
        for (i, turnout) in turnout.iter().enumerate().take(MAX_REFERENDUM_ROWS) {
            // Weighed as the votes were (by stake, each by its member's PV).
            let yes_share = if yes[i] + no[i] > 0.0 { share(yes[i] / (yes[i] + no[i])) } else { "–".to_string() };
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{} ({})</td><td class=\"n\">{} ({})</td><td>{}</td></tr>",
                escape(&r.text("day")[i]),
                escape(&r.text("community")[i]),
                escape(&r.text("proposal")[i]),
                escape(&r.text("yes")[i]),
                escape(&r.text("no")[i]),
                escape(&r.text("abstain")[i]),
                share(*turnout),
                share(quorum[i]),
                yes_share,
                share(majority[i]),
                if r.text("passed")[i] == "true" { "passed" } else { "failed" },
            );
        }
        h.push_str("</table>");
        if r.rows > MAX_REFERENDUM_ROWS {
            let _ = write!(h, "<p class=\"note\">The first {MAX_REFERENDUM_ROWS} of {} referendums; <code>referendums.csv</code> lists all with their tallies.</p>", r.rows);
        }
    }
    Ok(h)
}
