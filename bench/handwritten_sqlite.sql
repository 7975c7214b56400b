-- The hand-written floor for bench/playbook.yaml on SQLite: what an expert writes by hand to
-- produce exactly the grades, tasks and alerts `salesplay evaluate` produces, and nothing the
-- benchmark does not compare (no episodes table, no run ledger, no `detail` JSON).
--
-- Parameters (bound by bench/handwritten.py, computed in Python):
--   :as_of           the as-of date, 'YYYY-MM-DD'
--   :revenue_from    as_of - 6 calendar months (6 months before 2024-08-31 is 2024-02-29)
--   :overdue_before  as_of - 3 days: a follow-up due before this day is overdue
--
-- Idempotency without an episodes table: an open (or done-by-hand) task is the live episode of
-- its (rule, subject, episode) key; a new one gets seq = max(seq) + 1. For goal_lag the open
-- alert is the live episode (alerts are never resolved by hand).
-- Statements are separated by a semicolon at the end of a line; `-- @section NAME` lines mark
-- the parts (the zen pipeline reuses `goal_lag`).

-- @section grading

CREATE TEMP TABLE hw_graded AS
WITH metrics AS MATERIALIZED (
    SELECT c.id, c.strategic,
           COALESCE((SELECT SUM(o.amount_cents) FROM orders o
                     WHERE o.customer_id = c.id AND o.ordered_on BETWEEN :revenue_from AND :as_of
                       AND o.deleted = 0), 0) AS revenue_6m,
           COALESCE((SELECT SUM(d.amount_cents) FROM deals d
                     WHERE d.customer_id = c.id AND d.status = 'open' AND d.deleted = 0), 0)
             AS pipeline
    FROM customers c
    WHERE c.deleted = 0 AND (c.created_on IS NULL OR c.created_on <= :as_of)
)
SELECT m.id AS customer_id,
       COALESCE(ov.grade,
                CASE WHEN m.revenue_6m >= 50000000 OR m.pipeline >= 100000000 OR m.strategic
                          THEN 'A'
                     WHEN m.revenue_6m >= 10000000 OR m.pipeline >= 30000000 THEN 'B'
                     ELSE 'C' END) AS grade,
       CASE WHEN ov.grade IS NULL THEN 'rule' ELSE 'manual' END AS source
FROM metrics m
LEFT JOIN (SELECT g.customer_id, g.grade
           FROM grade_overrides g
           WHERE g.id IN (SELECT MAX(id) FROM grade_overrides WHERE set_on <= :as_of
                          GROUP BY customer_id)
             AND (g.until IS NULL OR g.until >= :as_of)) ov ON ov.customer_id = m.id;

CREATE TEMP TABLE hw_changed AS
SELECT n.customer_id, g.grade AS old_grade, n.grade, n.source
FROM hw_graded n
LEFT JOIN grades g ON g.customer_id = n.customer_id
WHERE g.customer_id IS NULL OR g.grade <> n.grade OR g.source <> n.source;

INSERT INTO grade_changes (customer_id, old_grade, new_grade, changed_on, source)
SELECT customer_id, old_grade, grade, :as_of, source FROM hw_changed;

INSERT INTO grades (customer_id, grade, since, source)
SELECT customer_id, grade, :as_of, source FROM hw_changed WHERE true
ON CONFLICT (customer_id) DO UPDATE
   SET since = CASE WHEN grades.grade = excluded.grade THEN grades.since ELSE excluded.since END,
       grade = excluded.grade, source = excluded.source;

-- @section follow_up

-- Last qualifying contact per grade's channels (A: visit/video; B: call/wechat/visit/video;
-- C: any), looked up per customer backwards on the (customer_id, occurred_on, channel, deleted)
-- index; due = last contact + cadence in calendar terms (months clamp to the month's end:
-- SQLite's '+1 month' overflows 01-31 into March, so clamp by hand), or the day the customer
-- was created when never contacted.
CREATE TEMP TABLE hw_due AS
WITH contact AS MATERIALIZED (
    SELECT c.id AS customer_id, c.name, c.owner_id, c.created_on, g.grade,
           CASE g.grade
             WHEN 'A' THEN (SELECT MAX(a.occurred_on) FROM activities a
                            WHERE a.customer_id = c.id AND a.occurred_on <= :as_of
                              AND a.channel IN ('visit', 'video') AND a.deleted = 0)
             WHEN 'B' THEN (SELECT MAX(a.occurred_on) FROM activities a
                            WHERE a.customer_id = c.id AND a.occurred_on <= :as_of
                              AND a.channel IN ('call', 'wechat', 'visit', 'video')
                              AND a.deleted = 0)
             ELSE (SELECT MAX(a.occurred_on) FROM activities a
                   WHERE a.customer_id = c.id AND a.occurred_on <= :as_of AND a.deleted = 0)
           END AS last_contact
    FROM customers c
    JOIN grades g ON g.customer_id = c.id
    WHERE c.deleted = 0 AND g.grade IN ('A', 'B', 'C')
      AND (c.created_on IS NULL OR c.created_on <= :as_of)
)
SELECT customer_id, name, owner_id, grade,
       CASE WHEN last_contact IS NULL THEN COALESCE(created_on, :as_of)
            WHEN grade = 'A' THEN date(last_contact, '+7 days')
            WHEN grade = 'B' THEN date(last_contact, '+14 days')
            WHEN strftime('%d', date(last_contact, '+1 month')) = strftime('%d', last_contact)
                 THEN date(last_contact, '+1 month')
            ELSE date(last_contact, 'start of month', '+2 months', '-1 day') END AS due
FROM contact;

CREATE INDEX hw_due_key ON hw_due (customer_id, due);

-- A qualifying contact moved the due date (or the customer lost its owner): close the task,
-- resolve the alert.
UPDATE tasks SET status = 'closed', closed_on = :as_of
WHERE rule = 'follow_up' AND subject_type = 'customer' AND status = 'open'
  AND NOT EXISTS (SELECT 1 FROM hw_due d
                  WHERE d.customer_id = tasks.subject_id AND d.due = tasks.episode
                    AND d.owner_id IS NOT NULL AND d.due <= :as_of);

UPDATE alerts SET status = 'resolved', resolved_on = :as_of
WHERE rule = 'follow_up.overdue' AND subject_type = 'customer' AND status = 'open'
  AND NOT EXISTS (SELECT 1 FROM hw_due d
                  WHERE d.customer_id = alerts.subject_id AND d.due = alerts.episode
                    AND d.owner_id IS NOT NULL AND d.due < :overdue_before);

INSERT INTO tasks (rule, subject_type, subject_id, episode, seq, assignee_id, due, title,
                   status, created_on)
SELECT 'follow_up', 'customer', d.customer_id, d.due,
       1 + COALESCE((SELECT MAX(t.seq) FROM tasks t
                     WHERE t.rule = 'follow_up' AND t.subject_type = 'customer'
                       AND t.subject_id = d.customer_id AND t.episode = d.due), 0),
       d.owner_id, d.due,
       '跟进 ' || d.name || '（' || d.grade || ' 级客户，应于 ' || d.due || ' 前）',
       'open', :as_of
FROM hw_due d
WHERE d.owner_id IS NOT NULL AND d.due <= :as_of
  AND NOT EXISTS (SELECT 1 FROM tasks t
                  WHERE t.rule = 'follow_up' AND t.subject_type = 'customer'
                    AND t.subject_id = d.customer_id AND t.episode = d.due
                    AND t.status <> 'closed');

INSERT INTO alerts (rule, subject_type, subject_id, episode, seq, recipient_id, level, message,
                    raised_on, status)
SELECT 'follow_up.overdue', 'customer', d.customer_id, d.due,
       1 + COALESCE((SELECT MAX(a.seq) FROM alerts a
                     WHERE a.rule = 'follow_up.overdue' AND a.subject_type = 'customer'
                       AND a.subject_id = d.customer_id AND a.episode = d.due), 0),
       d.owner_id, 'yellow',
       d.name || '（' || d.grade || ' 级）已逾期 '
         || CAST(julianday(:as_of) - julianday(d.due) AS INTEGER)
         || ' 天未跟进，应于 ' || d.due || ' 跟进',
       :as_of, 'open'
FROM hw_due d
WHERE d.owner_id IS NOT NULL AND d.due < :overdue_before
  AND NOT EXISTS (SELECT 1 FROM alerts a
                  WHERE a.rule = 'follow_up.overdue' AND a.subject_type = 'customer'
                    AND a.subject_id = d.customer_id AND a.episode = d.due
                    AND a.status = 'open');

-- @section goal_lag

-- Rep sales targets whose period holds the as-of date; lagging when
-- actual < 80% × target × elapsed_days / period_days (doubles, in the engine's order of
-- operations, so the boundary falls on the same cent). The manager is reps.manager_id, else the
-- head of the rep's unit or of the nearest unit above (never the rep himself).
CREATE TEMP TABLE hw_managers (rep_id TEXT PRIMARY KEY, manager_id TEXT);

INSERT INTO hw_managers (rep_id, manager_id)
WITH RECURSIVE up(rep_id, unit_id, depth) AS (
    SELECT r.id, r.org_unit_id, 0 FROM reps r WHERE r.org_unit_id IS NOT NULL
  UNION ALL
    SELECT up.rep_id, o.parent_id, up.depth + 1
    FROM up JOIN org_units o ON o.id = up.unit_id
    WHERE o.parent_id IS NOT NULL AND up.depth < 64
),
nearest AS (
    SELECT rep_id, manager_id
    FROM (SELECT up.rep_id, o.manager_id,
                 ROW_NUMBER() OVER (PARTITION BY up.rep_id ORDER BY up.depth, o.manager_id) AS rn
          FROM up JOIN org_units o ON o.id = up.unit_id
          WHERE o.manager_id IS NOT NULL AND o.manager_id <> up.rep_id AND o.deleted = 0) ranked
    WHERE rn = 1
)
SELECT rep_id, manager_id FROM nearest;

CREATE TEMP TABLE hw_lag AS
WITH target AS MATERIALIZED (
    SELECT t.owner_id AS rep_id, r.name AS rep_name, r.manager_id,
           t.metric || ' ' || t.period_start || '..' || t.period_end AS episode,
           t.value_x100 AS target,
           (SELECT COALESCE(SUM(o.amount_cents), 0) FROM orders o
            WHERE o.rep_id = t.owner_id AND o.deleted = 0
              AND o.ordered_on BETWEEN t.period_start AND t.period_end
              AND o.ordered_on <= :as_of) AS actual,
           CAST(julianday(t.period_end) - julianday(t.period_start) AS INTEGER) + 1 AS period_days,
           CAST(julianday(:as_of) - julianday(t.period_start) AS INTEGER) + 1 AS elapsed_days
    FROM targets t JOIN reps r ON r.id = t.owner_id
    WHERE t.deleted = 0 AND r.deleted = 0 AND t.owner_type = 'rep' AND t.metric = 'sales'
      AND t.period_start <= :as_of AND t.period_end >= :as_of
),
valued AS (
    SELECT t.*,
           CAST(t.target * t.elapsed_days AS REAL) / t.period_days AS expected,
           CAST(t.actual AS REAL) / NULLIF(t.target, 0) * 1000 AS permille
    FROM target t
),
texts AS MATERIALIZED (
    SELECT v.*,
           COALESCE(v.manager_id, n.manager_id) AS assignee_id,
           v.actual < v.expected * 4 / 5 AS fires,
           -- amounts: cents rounded half up, printed in units with trailing zeros cut
           CAST(v.expected + 0.5 AS INTEGER) - (v.expected + 0.5 < CAST(v.expected + 0.5 AS INTEGER))
             AS expected_cents,
           CAST(v.permille + 0.5 AS INTEGER) - (v.permille + 0.5 < CAST(v.permille + 0.5 AS INTEGER))
             AS permille_int
    FROM valued v LEFT JOIN hw_managers n ON n.rep_id = v.rep_id
)
SELECT rep_id, rep_name, episode, assignee_id, fires,
       rep_name || ' 销售额 '
         || (CASE WHEN actual < 0 THEN '-' ELSE '' END) || (abs(actual) / 100)
         || (CASE WHEN abs(actual) % 100 = 0 THEN ''
                  WHEN abs(actual) % 10 = 0 THEN '.' || (abs(actual) % 100 / 10)
                  ELSE '.' || printf('%02d', abs(actual) % 100) END)
         || ' / 目标 '
         || (CASE WHEN target < 0 THEN '-' ELSE '' END) || (abs(target) / 100)
         || (CASE WHEN abs(target) % 100 = 0 THEN ''
                  WHEN abs(target) % 10 = 0 THEN '.' || (abs(target) % 100 / 10)
                  ELSE '.' || printf('%02d', abs(target) % 100) END)
         || '，完成 '
         || COALESCE((CASE WHEN permille_int < 0 THEN '-' ELSE '' END) || (abs(permille_int) / 10)
                     || (CASE WHEN abs(permille_int) % 10 = 0 THEN ''
                              ELSE '.' || (abs(permille_int) % 10) END) || '%', '')
         || '，按进度应达 '
         || (CASE WHEN expected_cents < 0 THEN '-' ELSE '' END) || (abs(expected_cents) / 100)
         || (CASE WHEN abs(expected_cents) % 100 = 0 THEN ''
                  WHEN abs(expected_cents) % 10 = 0 THEN '.' || (abs(expected_cents) % 100 / 10)
                  ELSE '.' || printf('%02d', abs(expected_cents) % 100) END) AS message,
       '与 ' || rep_name || ' 一对一辅导：销售额完成 '
         || COALESCE((CASE WHEN permille_int < 0 THEN '-' ELSE '' END) || (abs(permille_int) / 10)
                     || (CASE WHEN abs(permille_int) % 10 = 0 THEN ''
                              ELSE '.' || (abs(permille_int) % 10) END) || '%', '')
         || '，落后进度' AS title
FROM texts;

-- Recovered: the open alert (the live episode) is resolved and its task closed.
UPDATE tasks SET status = 'closed', closed_on = :as_of
WHERE rule = 'goal_lag' AND subject_type = 'rep' AND status = 'open'
  AND EXISTS (SELECT 1 FROM hw_lag l
              WHERE l.rep_id = tasks.subject_id AND l.episode = tasks.episode AND NOT l.fires)
  AND NOT EXISTS (SELECT 1 FROM hw_lag l
                  WHERE l.rep_id = tasks.subject_id AND l.episode = tasks.episode AND l.fires);

UPDATE alerts SET status = 'resolved', resolved_on = :as_of
WHERE rule = 'goal_lag' AND subject_type = 'rep' AND status = 'open'
  AND EXISTS (SELECT 1 FROM hw_lag l
              WHERE l.rep_id = alerts.subject_id AND l.episode = alerts.episode AND NOT l.fires)
  AND NOT EXISTS (SELECT 1 FROM hw_lag l
                  WHERE l.rep_id = alerts.subject_id AND l.episode = alerts.episode AND l.fires);

CREATE TEMP TABLE hw_lag_new AS
SELECT l.rep_id, l.episode, l.assignee_id, l.title, l.message,
       1 + COALESCE((SELECT MAX(a.seq) FROM alerts a
                     WHERE a.rule = 'goal_lag' AND a.subject_type = 'rep'
                       AND a.subject_id = l.rep_id AND a.episode = l.episode), 0) AS seq
FROM hw_lag l
WHERE l.fires
  AND NOT EXISTS (SELECT 1 FROM alerts a
                  WHERE a.rule = 'goal_lag' AND a.subject_type = 'rep'
                    AND a.subject_id = l.rep_id AND a.episode = l.episode
                    AND a.status = 'open');

INSERT INTO tasks (rule, subject_type, subject_id, episode, seq, assignee_id, due, title,
                   status, created_on)
SELECT 'goal_lag', 'rep', rep_id, episode, seq, assignee_id, :as_of, title, 'open', :as_of
FROM hw_lag_new;

INSERT INTO alerts (rule, subject_type, subject_id, episode, seq, recipient_id, level, message,
                    raised_on, status)
SELECT 'goal_lag', 'rep', rep_id, episode, seq, assignee_id, 'red', message, :as_of, 'open'
FROM hw_lag_new;
