"""Shared fixtures for every test."""
