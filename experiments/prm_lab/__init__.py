"""prm_lab"""
