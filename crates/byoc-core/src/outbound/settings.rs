//! The outbound policy from an operator's settings: which of them add to or lift the built-in
//! denials, read without the environment (the caller hands over the text of each setting).

use super::Policy;
use crate::number::{Address, NumberPlan};
use crate::phone::{self, NumberKind, RegionCode};

/// The policy settings as an operator writes them (comma-separated lists, blank = unset). Each
/// field is named after its environment variable (`OUTBOUND_…`), which errors name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicySettings {
    /// `OUTBOUND_ALLOWED_PREFIXES`: destinations must start with one (default: the home code).
    pub allowed_prefixes: Option<String>,
    /// `OUTBOUND_DENIED_PREFIXES`: never dialled (`X` = any digit), added to the built-in ones.
    pub denied_prefixes: Option<String>,
    /// `OUTBOUND_DENIED_NUMBER_TYPES`: number types never dialled, added to the built-in ones.
    pub denied_number_types: Option<String>,
    /// `OUTBOUND_ALLOWED_REGIONS`: territories sharing the home code that may be dialled.
    pub allowed_regions: Option<String>,
    /// `OUTBOUND_REPLACE_DEFAULT_DENIALS`: the denials given replace the built-in ones.
    pub replace_default_denials: bool,
    /// `OUTBOUND_ALLOW_EMERGENCY`.
    pub allow_emergency: bool,
    /// `OUTBOUND_EMERGENCY_NUMBERS`: replaces the default emergency short codes.
    pub emergency_numbers: Option<String>,
    /// `OUTBOUND_ALLOWED_CALLER_IDS`: the only caller IDs that may be presented.
    pub allowed_caller_ids: Option<String>,
}

/// A policy setting that could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{setting}: {reason}")]
pub struct SettingError {
    /// The setting's name, as the environment spells it.
    pub setting: &'static str,
    pub reason: String,
}

fn err(setting: &'static str, reason: String) -> SettingError {
    SettingError { setting, reason }
}

/// The items of a comma-separated list, trimmed, blanks dropped; `None` when unset.
fn list(value: &Option<String>) -> Option<Vec<String>> {
    value.as_ref().map(|v| {
        v.split(',')
            .map(|x| x.trim().to_string())
            .filter(|x| !x.is_empty())
            .collect()
    })
}

/// E.164 prefixes (`+1`, `+44`); `X` (any digit) only where `wildcard` (denials such as the
/// 976 exchange).
fn prefixes(
    setting: &'static str,
    value: &Option<String>,
    wildcard: bool,
) -> Result<Option<Vec<String>>, SettingError> {
    list(value)
        .map(|items| {
            items
                .into_iter()
                .map(|p| {
                    let digits = p.strip_prefix('+').unwrap_or("");
                    let ok = p.starts_with('+')
                        && (1..=15).contains(&digits.len())
                        && !digits.starts_with('0')
                        && digits
                            .bytes()
                            .all(|b| b.is_ascii_digit() || (wildcard && matches!(b, b'X' | b'x')));
                    if ok {
                        Ok(p.to_ascii_uppercase())
                    } else {
                        Err(err(
                            setting,
                            format!("`{p}` is not an E.164 prefix such as +1 or +44"),
                        ))
                    }
                })
                .collect()
        })
        .transpose()
}

impl Policy {
    /// The policy for a home country (`plan`) under `settings`: the safe default of
    /// [`Policy::for_plan`], with the operator's denials added (or, with
    /// `replace_default_denials`, instead), and the built-in denials an allowed prefix or
    /// region lifts.
    pub fn from_settings(
        plan: &NumberPlan,
        settings: &PolicySettings,
    ) -> Result<Policy, SettingError> {
        let defaults = Policy::for_plan(plan);
        let allowed = prefixes(
            "OUTBOUND_ALLOWED_PREFIXES",
            &settings.allowed_prefixes,
            false,
        )?;
        let denied = prefixes("OUTBOUND_DENIED_PREFIXES", &settings.denied_prefixes, true)?
            .unwrap_or_default();
        let denied_types = number_types(&settings.denied_number_types)?;
        let allowed_regions = regions(plan, &defaults, &settings.allowed_regions)?;
        let replace = settings.replace_default_denials;
        let denied_kinds = if replace {
            denied_types
        } else {
            let mut all = defaults.denied_kinds.clone();
            all.extend(
                denied_types
                    .into_iter()
                    .filter(|k| !defaults.denied_kinds.contains(k)),
            );
            all
        };
        // A NANP country allowed by region is lifted like its exact prefixes.
        let region_prefixes: Vec<String> = allowed_regions
            .iter()
            .flat_map(|r| crate::nanp::prefixes_of_region(r.as_str()))
            .collect();
        let denied_prefixes = if replace {
            denied
        } else {
            // A built-in denial is lifted only by an allowed prefix written exactly as it
            // (`+1,+1876` serves Jamaica). A longer one must not lift it: `+18765550100` (one
            // number) would otherwise open all of +1876 under `+1`. The operator's own denials
            // always win.
            let lifted = |d: &String| {
                allowed.iter().flatten().any(|a| a == d) || region_prefixes.contains(d)
            };
            let mut all: Vec<String> = defaults
                .denied_prefixes
                .into_iter()
                .filter(|d| !lifted(d))
                .collect();
            for d in denied {
                if !all.contains(&d) {
                    all.push(d);
                }
            }
            all
        };
        let allowed_caller_ids = list(&settings.allowed_caller_ids)
            .map(|ids| {
                ids.iter()
                    .map(|c| e164(plan, "OUTBOUND_ALLOWED_CALLER_IDS", c))
                    .collect()
            })
            .transpose()?;
        Ok(Policy {
            allowed_prefixes: allowed.unwrap_or(defaults.allowed_prefixes),
            denied_prefixes,
            denied_kinds,
            home_country_code: defaults.home_country_code,
            home_regions: defaults.home_regions,
            allowed_regions,
            allow_emergency: settings.allow_emergency,
            emergency_numbers: list(&settings.emergency_numbers)
                .unwrap_or(defaults.emergency_numbers),
            allowed_caller_ids,
        })
    }
}

/// A number written as the operator gave it, in E.164.
pub fn e164(plan: &NumberPlan, setting: &'static str, v: &str) -> Result<String, SettingError> {
    match plan.normalize(v) {
        Ok(Address::E164(n)) => Ok(n),
        _ => Err(err(setting, format!("`{v}` is not an E.164 number"))),
    }
}

fn number_types(value: &Option<String>) -> Result<Vec<NumberKind>, SettingError> {
    list(value)
        .unwrap_or_default()
        .iter()
        .map(|t| {
            NumberKind::from_name(t).ok_or_else(|| {
                err(
                    "OUTBOUND_DENIED_NUMBER_TYPES",
                    format!(
                        "`{t}` is not a number type (one of {})",
                        NumberKind::ALL.map(NumberKind::name).join(", ")
                    ),
                )
            })
        })
        .collect()
}

/// Territories sharing the home country code, other than home itself.
fn regions(
    plan: &NumberPlan,
    defaults: &Policy,
    value: &Option<String>,
) -> Result<Vec<RegionCode>, SettingError> {
    let home = &defaults.home_regions;
    list(value)
        .unwrap_or_default()
        .iter()
        .map(|r| {
            let region = RegionCode::parse(r).filter(|region| {
                phone::country_code_of(*region)
                    .is_some_and(|cc| cc.to_string() == plan.country_code())
                    && !home.contains(region)
            });
            region.ok_or_else(|| {
                let others: Vec<String> = plan
                    .country_code()
                    .parse::<u16>()
                    .map(phone::regions)
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|t| !home.contains(t))
                    .map(|t| t.to_string())
                    .collect();
                let what = if RegionCode::parse(r).is_some_and(|t| home.contains(&t)) {
                    "is the home country itself, always allowed".to_string()
                } else {
                    format!(
                        "is not a territory sharing +{} with the home country",
                        plan.country_code()
                    )
                };
                err(
                    "OUTBOUND_ALLOWED_REGIONS",
                    format!(
                        "`{r}` {what} (the others sharing +{}: {})",
                        plan.country_code(),
                        if others.is_empty() {
                            "none".to_string()
                        } else {
                            others.join(", ")
                        }
                    ),
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> PolicySettings {
        PolicySettings::default()
    }

    #[test]
    fn no_settings_is_the_safe_default() {
        for home in ["1", "GB", "61"] {
            let plan = NumberPlan::new(home).unwrap();
            assert_eq!(
                Policy::from_settings(&plan, &settings()).unwrap(),
                Policy::for_plan(&plan)
            );
        }
    }

    #[test]
    fn denials_add_unless_replaced_and_only_an_exact_allowed_prefix_lifts_one() {
        let plan = NumberPlan::default();
        let defaults = Policy::for_plan(&plan);
        assert!(defaults.denied_prefixes.contains(&"+1876".to_string()));
        let added = Policy::from_settings(
            &plan,
            &PolicySettings {
                denied_prefixes: Some(" +1555 , ".into()),
                denied_number_types: Some("mobile".into()),
                ..settings()
            },
        )
        .unwrap();
        assert!(added.denied_prefixes.contains(&"+1555".to_string()));
        assert!(added.denied_prefixes.contains(&"+1876".to_string()));
        assert!(added.denied_kinds.contains(&NumberKind::PremiumRate));
        assert!(added.denied_kinds.contains(&NumberKind::Mobile));
        let replaced = Policy::from_settings(
            &plan,
            &PolicySettings {
                denied_prefixes: Some("+1555".into()),
                replace_default_denials: true,
                ..settings()
            },
        )
        .unwrap();
        assert_eq!(replaced.denied_prefixes, ["+1555"]);
        assert!(replaced.denied_kinds.is_empty());
        // `+1876` written exactly lifts Jamaica; one Jamaican number does not.
        let lift = |allowed: &str| {
            Policy::from_settings(
                &plan,
                &PolicySettings {
                    allowed_prefixes: Some(allowed.into()),
                    ..settings()
                },
            )
            .unwrap()
            .denied_prefixes
            .contains(&"+1876".to_string())
        };
        assert!(!lift("+1,+1876"));
        assert!(lift("+1,+18765550100"));
        // So does the region, and the operator's own denial of it still wins.
        let jm = Policy::from_settings(
            &plan,
            &PolicySettings {
                allowed_regions: Some("jm".into()),
                denied_prefixes: Some("+1876".into()),
                ..settings()
            },
        )
        .unwrap();
        assert!(jm.denied_prefixes.contains(&"+1876".to_string()));
        assert_eq!(jm.allowed_regions, [RegionCode::parse("JM").unwrap()]);
    }

    #[test]
    fn bad_settings_name_themselves() {
        let gb = NumberPlan::new("GB").unwrap();
        let refused = |s: PolicySettings| Policy::from_settings(&gb, &s).unwrap_err();
        let e = refused(PolicySettings {
            allowed_prefixes: Some("44".into()),
            ..settings()
        });
        assert_eq!(e.setting, "OUTBOUND_ALLOWED_PREFIXES");
        // `X` is a wildcard in denials only.
        assert!(Policy::from_settings(
            &gb,
            &PolicySettings {
                denied_prefixes: Some("+44XX9".into()),
                ..settings()
            }
        )
        .is_ok());
        assert_eq!(
            refused(PolicySettings {
                allowed_prefixes: Some("+44X".into()),
                ..settings()
            })
            .setting,
            "OUTBOUND_ALLOWED_PREFIXES"
        );
        let e = refused(PolicySettings {
            denied_number_types: Some("premium".into()),
            ..settings()
        });
        assert!(e.to_string().contains("premium_rate"), "{e}");
        let e = refused(PolicySettings {
            allowed_regions: Some("GB".into()),
            ..settings()
        });
        assert!(e.reason.contains("home country itself"), "{e}");
        let e = refused(PolicySettings {
            allowed_regions: Some("FR".into()),
            ..settings()
        });
        assert!(e.reason.contains("JE"), "{e}");
        let e = refused(PolicySettings {
            allowed_caller_ids: Some("+441632960001,nope".into()),
            ..settings()
        });
        assert_eq!(e.setting, "OUTBOUND_ALLOWED_CALLER_IDS");
    }
}
