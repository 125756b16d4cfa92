//! Call quality by the ITU-T G.107 E-model, in the simplified form in wide use
//! (docs/METRICS.md, "MOS by the E-model").
//!
//! R = 93.2 − Id − Ie_eff; Id = 0.024·d + 0.11·(d − 177.3)·H(d − 177.3) for a one-way delay d
//! in ms; Ie_eff = Ie + (95 − Ie)·Ppl / (Ppl/BurstR + Bpl) for a packet loss Ppl in %;
//! MOS = 1 + 0.035·R + 7·10⁻⁶·R·(R − 60)·(100 − R), clamped to [1, 4.5]. The codec impairments
//! come from ITU-T G.113 Appendix I (one table, below). Wideband codecs need G.107.1 and are
//! not scored: they are reported as such rather than given a narrowband number.

/// Codec impairment factors (ITU-T G.113 Appendix I): Ie and the packet-loss robustness Bpl.
/// G.711 is taken with packet-loss concealment (Bpl 25.1), as every current endpoint has it.
const CODECS: [(&str, f64, f64); 6] = [
    ("PCMU", 0.0, 25.1),
    ("PCMA", 0.0, 25.1),
    ("G729", 11.0, 19.0),
    ("G723", 15.0, 16.1),
    ("GSM", 20.0, 10.0),
    ("G728", 7.0, 10.0),
];

/// Wideband codecs: G.107 (narrowband) does not score them.
const WIDEBAND: [&str; 8] = [
    "G722", "OPUS", "AMR-WB", "SILK", "SPEEX", "G7221", "ISAC", "L16",
];

/// The encoding name of a static payload type (RFC 3551).
pub fn static_encoding(pt: u8) -> Option<&'static str> {
    Some(match pt {
        0 => "PCMU",
        3 => "GSM",
        4 => "G723",
        8 => "PCMA",
        9 => "G722",
        15 => "G728",
        18 => "G729",
        _ => return None,
    })
}

/// A stream's score, or why it has none.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub enum Score {
    Mos { r: f64, mos: f64 },
    NotScored(&'static str),
}

/// MOS from the R factor (G.107 Annex B), clamped to [1, 4.5].
pub fn mos_of_r(r: f64) -> f64 {
    if r <= 0.0 {
        return 1.0;
    }
    if r >= 100.0 {
        // The cubic turns down past 100; G.107 sets MOS to 4.5 there.
        return 4.5;
    }
    let m = 1.0 + 0.035 * r + 7e-6 * r * (r - 60.0) * (100.0 - r);
    m.clamp(1.0, 4.5)
}

/// The E-model for `encoding` at `loss_pct` packet loss (%), `burst_r` burstiness (1 for random
/// loss) and one-way delay `delay_ms`.
pub fn score(encoding: Option<&str>, loss_pct: f64, burst_r: f64, delay_ms: f64) -> Score {
    let Some(enc) = encoding else {
        return Score::NotScored("codec unknown");
    };
    let enc = enc.to_ascii_uppercase();
    if WIDEBAND.iter().any(|w| enc.starts_with(w)) {
        return Score::NotScored("wideband codec: G.107 does not score it (G.107.1 would)");
    }
    let Some(&(_, ie, bpl)) = CODECS.iter().find(|(n, _, _)| enc == *n) else {
        return Score::NotScored("no G.113 impairment figures for this codec");
    };
    let ppl = loss_pct.max(0.0);
    let burst_r = if burst_r > 0.0 { burst_r } else { 1.0 };
    let ie_eff = ie + (95.0 - ie) * ppl / (ppl / burst_r + bpl);
    let d = delay_ms.max(0.0);
    let id = 0.024 * d + if d > 177.3 { 0.11 * (d - 177.3) } else { 0.0 };
    let r = 93.2 - id - ie_eff;
    Score::Mos {
        r,
        mos: mos_of_r(r),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mos(s: Score) -> f64 {
        match s {
            Score::Mos { mos, .. } => mos,
            Score::NotScored(w) => panic!("not scored: {w}"),
        }
    }

    #[test]
    fn reference_points() {
        // The default R of G.107 (no impairment) maps to MOS 4.41.
        assert!((mos_of_r(93.2) - 4.41).abs() < 0.005, "{}", mos_of_r(93.2));
        assert_eq!(mos_of_r(-5.0), 1.0);
        assert_eq!(mos_of_r(120.0), 4.5);
        assert!((mos(score(Some("PCMU"), 0.0, 1.0, 0.0)) - 4.41).abs() < 0.005);
    }

    #[test]
    fn loss_curves_per_codec() {
        // G.711 with PLC at 1 %: Ie_eff = 95·1/(1 + 25.1) = 3.64, R = 89.56.
        let Score::Mos { r, .. } = score(Some("PCMA"), 1.0, 1.0, 0.0) else {
            panic!()
        };
        assert!((r - (93.2 - 95.0 / 26.1)).abs() < 1e-9);
        // More loss, lower MOS; G.729 starts lower and falls faster than G.711.
        let g711: Vec<f64> = [0.0, 1.0, 3.0, 10.0]
            .iter()
            .map(|l| mos(score(Some("PCMU"), *l, 1.0, 0.0)))
            .collect();
        let g729: Vec<f64> = [0.0, 1.0, 3.0, 10.0]
            .iter()
            .map(|l| mos(score(Some("G729"), *l, 1.0, 0.0)))
            .collect();
        assert!(g711.windows(2).all(|w| w[0] > w[1]), "{g711:?}");
        assert!(
            g729.iter().zip(&g711).all(|(a, b)| a < b),
            "{g729:?} {g711:?}"
        );
        // Each codec's curve at 2 % random loss, from its G.113 Ie and Bpl:
        // Ie_eff = Ie + (95 − Ie)·2/(2 + Bpl), R = 93.2 − Ie_eff.
        for (codec, ie, bpl) in [
            ("PCMU", 0.0, 25.1),
            ("G729", 11.0, 19.0),
            ("G723", 15.0, 16.1),
            ("GSM", 20.0, 10.0),
        ] {
            let Score::Mos { r, .. } = score(Some(codec), 2.0, 1.0, 0.0) else {
                panic!("{codec}")
            };
            let want = 93.2 - (ie + (95.0 - ie) * 2.0 / (2.0 + bpl));
            assert!((r - want).abs() < 1e-9, "{codec}: R {r}, want {want}");
        }
        // Bursty loss hurts more than random loss at the same rate (BurstR 2 vs 1).
        assert!(mos(score(Some("PCMU"), 3.0, 2.0, 0.0)) < mos(score(Some("PCMU"), 3.0, 1.0, 0.0)));
        // Delay past 177.3 ms costs more per ms.
        let near = mos(score(Some("PCMU"), 0.0, 1.0, 150.0));
        let far = mos(score(Some("PCMU"), 0.0, 1.0, 300.0));
        assert!(near > far);
    }

    #[test]
    fn wideband_is_said_not_faked() {
        assert!(matches!(
            score(Some("opus"), 0.0, 1.0, 0.0),
            Score::NotScored(_)
        ));
        assert!(matches!(
            score(Some("G722"), 0.0, 1.0, 0.0),
            Score::NotScored(_)
        ));
        assert!(matches!(score(None, 0.0, 1.0, 0.0), Score::NotScored(_)));
    }
}
