"""The connection argument spec and its documentation twin (plugins/doc_fragments/vmware.py) say the same."""

from __future__ import annotations

import yaml

from ansible_collections.esxi.customizer.plugins.doc_fragments.vmware import ModuleDocFragment
from ansible_collections.esxi.customizer.plugins.module_utils._vsphere.argspec import ENVIRONMENT, connection_argument_spec


def fallback(*args):
    return None


def test_every_option_is_documented_with_its_type_default_aliases_and_variable():
    spec = connection_argument_spec(fallback)
    docs = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)['options']
    assert set(docs) == set(spec)
    for name, entry in spec.items():
        doc = docs[name]
        assert doc['type'] == entry['type'], name
        assert doc.get('default') == entry.get('default'), name
        assert doc.get('required', False) == entry.get('required', False), name
        assert sorted(doc.get('aliases', [])) == sorted(entry.get('aliases', [])), name
        variable = ENVIRONMENT.get(name)
        assert (entry.get('fallback') == (fallback, [variable])) if variable else 'fallback' not in entry, name
        assert ('E(%s)' % variable in ' '.join(doc['description'])) if variable else True, name


def test_the_password_is_never_logged():
    assert connection_argument_spec(fallback)['password']['no_log'] is True
