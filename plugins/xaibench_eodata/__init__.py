"""Loaders of real Earth-observation datasets (DFC2020, BigEarthNet, ben-ge, EuroSAT, OpenSARUrban, SEN12MS(-CR), EarthNet2021)."""
