//! Times: the server renders UTC; once hydrated, the browser shows local time.

use leptos::prelude::*;

/// The browser's clock in milliseconds since the epoch (0 on the server, where nothing
/// time-driven runs).
pub fn now_ms() -> f64 {
    #[cfg(feature = "hydrate")]
    {
        js_sys::Date::now()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        0.0
    }
}

/// "HH:MM" of a millisecond timestamp, in UTC.
pub fn hh_mm_utc(ms: i64) -> String {
    let minutes = ms.div_euclid(60_000).rem_euclid(24 * 60);
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// "HH:MM" in the browser's time zone (UTC on the server).
#[cfg(feature = "hydrate")]
pub fn hh_mm_local(ms: i64) -> String {
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
    format!("{:02}:{:02}", d.get_hours(), d.get_minutes())
}

#[cfg(not(feature = "hydrate"))]
pub fn hh_mm_local(ms: i64) -> String {
    hh_mm_utc(ms)
}

/// Set by the app once hydration has finished; times then switch to local time.
#[derive(Clone, Copy)]
pub struct Hydrated(pub RwSignal<bool>);

/// A `<time>` that switches to local time after hydration (the first render must match
/// the server's HTML exactly). One app-wide [`Hydrated`] flag drives every time on the
/// page, instead of a signal and an effect per time.
#[component]
pub fn Time(ms: i64, #[prop(optional)] class: &'static str) -> impl IntoView {
    let hydrated = use_context::<Hydrated>();
    let text = move || {
        if hydrated.is_some_and(|h| h.0.get()) {
            hh_mm_local(ms)
        } else {
            hh_mm_utc(ms)
        }
    };
    view! { <time class=class datetime=iso_utc(ms)>{text}</time> }
}

/// ISO 8601 in UTC, for the `datetime` attribute.
pub fn iso_utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The clock for day labels: the browser's, or the server's while rendering a page.
fn clock_ms() -> i64 {
    #[cfg(feature = "hydrate")]
    {
        js_sys::Date::now() as i64
    }
    #[cfg(all(feature = "ssr", not(feature = "hydrate")))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    }
    #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
    {
        0
    }
}

/// The browser's offset from UTC at `ms`, in milliseconds (0 on the server).
fn local_offset_ms(ms: i64) -> i64 {
    #[cfg(feature = "hydrate")]
    {
        let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
        -(d.get_timezone_offset() as i64) * 60_000
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = ms;
        0
    }
}

/// The day of `ms` (days since 1970-01-01), in UTC or in the browser's time zone.
fn day_number(ms: i64, local: bool) -> i64 {
    let shifted = if local { ms + local_offset_ms(ms) } else { ms };
    shifted.div_euclid(86_400_000)
}

const WEEKDAYS: [&str; 7] = [
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// "Today", "Yesterday", a weekday within the week, else "30 Nov 2026".
pub fn day_label(day: i64, today: i64) -> String {
    match today - day {
        0 => "Today".to_string(),
        1 => "Yesterday".to_string(),
        2..=6 => WEEKDAYS[day.rem_euclid(7) as usize].to_string(),
        _ => {
            let (y, m, d) = civil_from_days(day);
            format!("{d} {} {y}", MONTHS[(m - 1) as usize])
        }
    }
}

/// A line with the day before the first message of each day (`prev`: the time of the
/// message above, if any). UTC until hydration, then the browser's days, as [`Time`].
#[component]
pub fn DaySeparator(ms: i64, prev: Option<i64>) -> impl IntoView {
    let hydrated = use_context::<Hydrated>();
    move || {
        let local = hydrated.is_some_and(|h| h.0.get());
        let day = day_number(ms, local);
        if prev.is_some_and(|p| day_number(p, local) == day) {
            return None;
        }
        let label = day_label(day, day_number(clock_ms(), local));
        Some(view! { <div class="day-separator"><span>{label}</span></div> })
    }
}

/// Days since 1970-01-01 to (year, month, day); Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc() {
        assert_eq!(hh_mm_utc(0), "00:00");
        assert_eq!(iso_utc(0), "1970-01-01T00:00:00Z");
        // 2026-11-25T21:22:43Z
        assert_eq!(iso_utc(1_795_641_763_000), "2026-11-25T21:22:43Z");
        assert_eq!(hh_mm_utc(1_795_641_763_000), "21:22");
        assert_eq!(iso_utc(951_782_400_000), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn day_labels() {
        let today = day_number(1_795_641_763_000, false); // Wednesday 2026-11-25
        assert_eq!(day_label(today, today), "Today");
        assert_eq!(day_label(today - 1, today), "Yesterday");
        assert_eq!(day_label(today - 2, today), "Monday");
        assert_eq!(day_label(today - 7, today), "18 Nov 2026");
        assert_eq!(day_label(0, today), "1 Jan 1970");
    }
}
