# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs the module esxi.customizer.iso_customize in the worker process when its target is the controller (documented there)."""

from __future__ import annotations

from ansible_collections.esxi.customizer.plugins.plugin_utils.in_process import InProcessAction


class ActionModule(InProcessAction):
    pass
