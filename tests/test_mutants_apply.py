"""scripts/mutants.py (make mutants, not part of this suite: a build and tests
per mutant) breaks leaktop on purpose and expects a test to notice.  Each
mutant's edit must still match today's code: a change that moves the code a
mutant breaks must move the mutant too, or the mutation check silently loses
it.  Checked here, where every change is tested."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import mutants  # noqa: E402


def test_every_mutant_applies_to_today_s_code():
    assert len(mutants.MUTANTS) >= 20
    stale = {m.name: mutants.problem_with(m) for m in mutants.MUTANTS if mutants.problem_with(m)}
    assert not stale, stale


def test_every_mutant_names_tests_that_exist():
    for m in mutants.MUTANTS:
        assert m.tests, m.name
        for test in m.tests:
            path = test.split("::", 1)[0]
            assert (ROOT / path).exists(), (m.name, test)
            if "::" in test:
                name = test.split("::", 1)[1].split("[", 1)[0]
                assert f"def {name}(" in (ROOT / path).read_text(), (m.name, test)
