"""The built-ins say what their sources say: one check per point where a reading against the
primary text corrected them, so a file cannot drift back."""

from __future__ import annotations

from tripwire.policy import load_policy


def _p(name: str):
    return load_policy(name).policy


def _safeguard(name: str, ident: str):
    return next(s for s in _p(name).safeguards if s.id == ident)


def _threshold(name: str, ident: str):
    return next(t for t in _p(name).thresholds if t.id == ident)


def test_gdm_fsf_uses_v3_wording_security_levels_and_gates():
    p = _p("gdm-fsf")
    assert p.encodes == "fsf-3.0" and p.pre_mitigation_required
    cbrn = _threshold("gdm-fsf", "CBRN-uplift-1")
    assert "low to medium resourced actors" in cbrn.description
    assert "dual-use scientific protocols" not in cbrn.description
    auto = _threshold("gdm-fsf", "ML-RD-automation-1")
    assert "any team of researchers" in auto.description and "all-inclusive" in auto.description
    # a security level per CCL, and deployment mitigations never gate further training
    assert _threshold("gdm-fsf", "ML-RD-acceleration-1").requires.train == ["security-level-3"]
    assert auto.requires.train == ["security-level-4"]
    assert _threshold("gdm-fsf", "harmful-manipulation-1").requires.train == ["security-level-2"]
    for t in p.thresholds:
        assert not any("deployment" in s or "safety-case" in s for s in t.requires.train)
    # the misalignment CCLs are exploratory: reported, nothing gated
    for ident in ("instrumental-reasoning-1", "instrumental-reasoning-2"):
        t = _threshold("gdm-fsf", ident)
        assert t.level == "misalignment-exploratory" and not t.requires_any
    level = next(lv for lv in p.levels if lv.id == "misalignment-exploratory")
    assert not level.requires.train and not level.requires.deploy


def test_openai_preparedness_per_category_safeguards_and_critical_halt():
    p = _p("openai-preparedness")
    assert p.pre_mitigation_required
    assert next(s for s in p.sources if s.id == "pf-v2").url.endswith(".pdf")
    assert _threshold("openai-preparedness", "self-improvement-high").requires.deploy == [
        "high-security-controls"]
    assert "high-misalignment-safeguards" in _threshold(
        "openai-preparedness", "cyber-high").requires.deploy
    assert "baseline of tools available in 2021" in _threshold(
        "openai-preparedness", "bio-chem-high").description
    assert "without human intervention" in _threshold(
        "openai-preparedness", "bio-chem-critical").description
    critical = next(lv for lv in p.levels if lv.id == "Critical")
    assert "halt further development" in critical.response
    assert critical.requires.train == ["critical-standard-safeguards"]


def test_anthropic_rsp_counts_unless_ruled_out_and_v22_security_scope():
    p = _p("anthropic-rsp")
    assert p.rule_out_confidence == 0.9 and p.level_states == ["crossed"]
    desc = _safeguard("anthropic-rsp", "asl3-security-standard").description
    assert "sophisticated insiders and state-compromised insiders are outside its scope" in desc
    assert _threshold("anthropic-rsp", "autonomy-checkpoint").requires_any is False
    assert all(s.url is None or "responsible-scaling-policy" not in s.url
               for s in p.sources if s.version == "2.2")


def test_eu_gpai_criterion_and_missing_articles():
    p = _p("eu-ai-act-gpai")
    assert p.default_level is None
    assert p.parameters["gpai_indicative_compute"].value == 1e23
    assert "cumulative_compute" in _threshold("eu-ai-act-gpai", "systemic-risk-presumption"
                                              ).condition
    assert _safeguard("eu-ai-act-gpai", "authorised-representative").source.endswith(
        "Art. 54(1)")
    assert "presumption_rebutted" in p.parameters
    (d,) = _safeguard("eu-ai-act-gpai", "commission-notification").deadlines
    assert d.hours == 14 * 24


def test_ca_sb53_authority_large_developer_and_catastrophic_risk():
    p = _p("ca-sb53")
    report = _safeguard("ca-sb53", "critical-safety-incident-reporting")
    assert "law enforcement agency or public safety agency" in report.description
    assert sorted(d.hours for d in report.deadlines) == [24, 15 * 24]
    large = next(lv for lv in p.levels if lv.id == "large-frontier-developer")
    assert "frontier-ai-framework" in large.requires.deploy
    assert "transparency-report-risk-assessments" in large.requires.deploy
    assert p.cadence is None  # the three-monthly summaries are a large developer's deadline
    assert p.parameters["catastrophic_risk_people"].value == 50
    assert p.parameters["catastrophic_risk_damage_usd"].value == 1e9


def test_ny_raise_encodes_the_chapter_amendment():
    p = _p("ny-raise")
    assert p.parameters["frontier_compute"].value == 1e26
    assert p.parameters["large_developer_revenue_usd"].value == 5e8
    assert "cost_usd" not in " ".join(t.condition for t in p.thresholds)
    report = _safeguard("ny-raise", "critical-safety-incident-reporting")
    assert sorted(d.hours for d in report.deadlines) == [24, 72]
