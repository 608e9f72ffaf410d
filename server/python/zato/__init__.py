# -*- coding: utf-8 -*-
"""Zato-compatible Python runtime embedded in the Rust server.

Only `zato._runtime` is called by the host; everything else exists so that
service files written for upstream Zato 3.2 import and run unmodified.
"""
