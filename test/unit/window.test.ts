import t from 'tap'
import { checkWindowSchedule, DeliveryWindow, parseSchedule, windowState } from '../../gateway/window.js'
import { eventually } from '../helpers/wait.js'

const DAY = 86_400_000
/** Local time, as cron schedules are read. */
const at = (y: number, mo: number, d: number, h = 0, mi = 0, s = 0, ms = 0): number => new Date(y, mo - 1, d, h, mi, s, ms).getTime()

t.test('window state: open now, since when, until when, next opening', async t => {
  const monthly = parseSchedule('0 0 0 1 * *') // 6 fields: midnight on the 1st
  t.same(windowState(monthly, 7 * DAY, at(2026, 3, 4, 12)), { open: true, openedAt: at(2026, 3, 1), closesAt: at(2026, 3, 8), nextOpen: at(2026, 4, 1) })
  t.same(windowState(monthly, 7 * DAY, at(2026, 3, 20)), { open: false, nextOpen: at(2026, 4, 1) })
  t.match(windowState(monthly, 7 * DAY, at(2026, 3, 1)), { open: true, openedAt: at(2026, 3, 1) }, 'open at the very moment of the opening')
  t.match(windowState(monthly, 7 * DAY, at(2026, 3, 8)), { open: false }, 'closed at the very moment it closes')
  t.match(windowState(monthly, 7 * DAY, at(2026, 2, 28, 23, 59, 59, 999)), { open: false, nextOpen: at(2026, 3, 1) })

  const weekdays = parseSchedule('30 9 * * 1-5') // 5 fields: 09:30 Monday to Friday
  t.match(windowState(weekdays, 2 * 3_600_000, at(2026, 3, 6, 10)), { open: true, openedAt: at(2026, 3, 6, 9, 30) }, 'Friday 10:00')
  t.match(windowState(weekdays, 2 * 3_600_000, at(2026, 3, 7, 10)), { open: false, nextOpen: at(2026, 3, 9, 9, 30) }, 'Saturday: next on Monday')

  // longer than a timer can wait, and longer than the schedule's period (overlapping windows)
  const bimonthly = parseSchedule('0 0 1 */2 *')
  t.match(windowState(bimonthly, 40 * DAY, at(2026, 2, 5)), { open: true, openedAt: at(2026, 1, 1), closesAt: at(2026, 2, 10) }, 'a 40-day window')
  t.match(windowState(parseSchedule('0 * * * *'), 2 * 3_600_000, at(2026, 3, 1, 5, 10)), { open: true, openedAt: at(2026, 3, 1, 5), nextOpen: at(2026, 3, 1, 6) }, 'overlapping: open, since the latest opening')
})

t.test('window state is computed in well under a millisecond for any schedule and duration', async t => {
  const schedules = ['0 0 0 1 * *', '0 0 1 * *', '59 59 23 31 12 *', '0 0 29 2 *', '*/2 * * * * *', '0 0 12 * * 1#2', '0 0 L * *']
  for (const s of schedules) {
    const cron = parseSchedule(s)
    const started = performance.now()
    for (let i = 0; i < 100; i++) windowState(cron, 30 * DAY, Date.now() + i * 3_600_000)
    const each = (performance.now() - started) / 100
    t.ok(each < 5, `${s}: ${each.toFixed(3)} ms each`) // a benchmark more than a bound; the stall test holds the real one
  }
})

t.test('schedules that cannot be used are named', async t => {
  t.equal(checkWindowSchedule('0 0 1 * *'), undefined)
  t.equal(checkWindowSchedule('*/2 * * * * *'), undefined)
  t.match(checkWindowSchedule('61 * * * *'), /not a valid cron expression: "61 \* \* \* \*"/)
  t.match(checkWindowSchedule('* * * * * * *'), /not a valid cron expression/, '7 fields are not accepted')
  t.equal(checkWindowSchedule('0 0 30 2 *'), '"0 0 30 2 *" never opens')
})

t.test('a window longer than a timer can wait does not close at once', async t => {
  let closed = 0
  let opened = 0
  const window = new DeliveryWindow('0 0 1 * *', 60 * DAY, { onOpen: () => opened++, onClose: () => closed++ })
  t.teardown(async () => await window.close())
  t.equal(opened, 1, 'a 60-day monthly window is always open')
  t.ok(window.isOpen)
  await new Promise(resolve => setTimeout(resolve, 100)) // a 60-day timer overflows to 1 ms: it would have fired by now
  t.equal(closed, 0, 'and stays open')
  t.ok(window.isOpen)
})

t.test('a window opens and closes on time (seconds schedule)', async t => {
  const events: Array<[string, number]> = []
  let done: () => void = () => {}
  const finished = new Promise<void>(resolve => { done = resolve })
  // created while the window is shut (the odd second), so each opening is one the schedule made:
  // a window created inside an open period opens at once, whatever the clock says
  await eventually('the odd half of a two-second period', () => Date.now() % 2000 >= 1000 && Date.now() % 2000 < 1800, { everyMs: 5 })
  const window = new DeliveryWindow('*/2 * * * * *', 1000, {
    onOpen: () => events.push(['open', Date.now()]),
    onClose: () => {
      events.push(['close', Date.now()])
      if (events.filter(e => e[0] === 'close').length === 2) done()
    }
  })
  t.teardown(async () => await window.close())
  const keepAlive = setInterval(() => {}, 1000) // the window's own timers do not keep a process alive
  await finished
  clearInterval(keepAlive)
  const opens = events.filter(e => e[0] === 'open').map(e => e[1] % 2000)
  t.ok(opens.every(ms => ms < 500), `opened at the start of each even second (+${opens.join(', +')} ms)`)
  t.ok(events.every((e, i) => i === 0 || e[0] !== events[i - 1]?.[0]), `opens and closes alternate (${events.map(e => e[0]).join(' ')})`)
  const closes = events.filter(e => e[0] === 'close').map(e => e[1] % 2000)
  t.ok(closes.every(ms => ms >= 1000 && ms < 1500), `closed a second after each opening (+${closes.join(', +')} ms)`)
})
