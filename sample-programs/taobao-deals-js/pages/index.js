// The home page: today's deals, the biggest discount first, eight at a time.
const catalogue = require('../utils/catalogue');
const store = require('../utils/store');

const PER_PAGE = 8;

Page({
  data: { page: 1, pages: 1, deals: [], pieces: 0, notice: null },

  onLoad(query) {
    this.requested = Math.max(parseInt(query.page, 10) || 1, 1);
  },

  onShow() {
    this.refresh();
  },

  onPullDownRefresh() {
    this.refresh();
  },

  refresh(notice = null) {
    const pages = Math.ceil(catalogue.ITEMS.length / PER_PAGE);
    const page = Math.min(this.requested, pages);
    const sorted = catalogue.ITEMS.slice().sort((a, b) => catalogue.discountPercent(b) - catalogue.discountPercent(a));
    const deals = sorted.slice((page - 1) * PER_PAGE, page * PER_PAGE).map((item) => ({
      id: item.id,
      title: item.title,
      price: item.price,
      original: item.original,
      discount: catalogue.discountPercent(item),
    }));
    this.setData({ page, pages, deals, pieces: store.pieces(store.cart()), notice });
  },

  openItem(e) {
    wx.navigateTo({ url: `/pages/item?id=${e.currentTarget.dataset.id}` });
  },

  openCart() {
    wx.navigateTo({ url: '/pages/cart' });
  },

  openOrders() {
    wx.navigateTo({ url: '/pages/orders' });
  },

  turn(e) {
    wx.redirectTo({ url: `/pages/index?page=${e.currentTarget.dataset.page}` });
  },
});
