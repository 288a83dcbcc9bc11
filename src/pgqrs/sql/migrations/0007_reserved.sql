-- Stands in for migration 0007, written on another branch and merged before this one (0009 needs
-- the numbers below it). Empty on purpose: DELETE THIS FILE when merging that branch.
SELECT 1;
