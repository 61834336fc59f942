"""Readers and writers of file formats arttrack exchanges with other tools."""
